-- The objects an incremental stage has already loaded into one staging table, with their ETags.
SELECT
    so.s3_key,
    so.etag
FROM staged_objects AS so
WHERE so.staging_table = %(staging_table)s
