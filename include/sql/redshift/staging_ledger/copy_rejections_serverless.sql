-- Lines the last COPY of this session rejected under MAXERROR, on Redshift Serverless (SYS views only): the
-- errors this session recorded since the COPY started. No raw line is kept there.
SELECT
    d.file_name AS s3_uri,
    d.line_number,
    CAST(NULL AS VARCHAR) AS excerpt,
    TRIM(d.column_name) || ': ' || TRIM(d.error_message) AS reason
FROM sys_load_error_detail AS d
WHERE
    d.session_id = PG_BACKEND_PID()
    AND d.start_time >= %(copy_started)s
ORDER BY d.file_name, d.line_number
