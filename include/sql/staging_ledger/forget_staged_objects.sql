-- A full reload starts the tracking of one staging table afresh.
DELETE FROM staged_objects
WHERE staging_table = %(staging_table)s
