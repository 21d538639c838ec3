-- One finding about a staged object's shape (see ddl/07_source_observations.sql).
INSERT INTO source_observations (
    observed_at, run_id, staging_table, contract, s3_uri, records, field, finding, affected, share, severity, example,
    sampled
)
VALUES (
    %(observed_at)s,
    %(run_id)s,
    %(staging_table)s,
    %(contract)s,
    %(s3_uri)s,
    %(records)s,
    %(field)s,
    %(finding)s,
    %(affected)s,
    %(share)s,
    %(severity)s,
    %(example)s,
    %(sampled)s
)
