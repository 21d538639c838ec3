-- Lines the last COPY of this session rejected under MAXERROR (provisioned clusters: STL_LOAD_ERRORS, where
-- PG_LAST_COPY_ID() names the COPY). Read back into load_errors, like the PostgreSQL engine's rejections.
SELECT
    le.filename AS s3_uri,
    le.line_number,
    le.raw_line AS excerpt,
    TRIM(le.colname) || ': ' || TRIM(le.err_reason) AS reason
FROM stl_load_errors AS le
WHERE le.query = PG_LAST_COPY_ID()
ORDER BY le.filename, le.line_number
