-- One line rejected while staging under a max_errors allowance.
INSERT INTO load_errors (run_id, staging_table, s3_key, line_number, reason, excerpt, recorded_at)
VALUES (
    %(run_id)s,
    %(staging_table)s,
    %(s3_key)s,
    %(line_number)s,
    %(reason)s,
    %(excerpt)s,
    %(recorded_at)s
)
