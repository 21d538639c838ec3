-- The shape each staged object had, judged against its source's contract (include/contracts): one row per finding
-- (a required field missing, a field dropped, an unknown field, values of the wrong type), or one 'conforms' row.
-- Kept across runs, also for stages that failed, so a source's drift can be followed over time.
CREATE TABLE IF NOT EXISTS source_observations (
    observed_at TIMESTAMP NOT NULL,
    run_id VARCHAR(256) NOT NULL,
    staging_table VARCHAR(128) NOT NULL,
    contract VARCHAR(128) NOT NULL,
    s3_uri VARCHAR(1024) NOT NULL,
    records BIGINT NOT NULL,
    field VARCHAR(256),
    finding VARCHAR(16) NOT NULL,
    affected BIGINT NOT NULL,
    share DOUBLE PRECISION NOT NULL,
    severity VARCHAR(8) NOT NULL,
    example VARCHAR(1024),
    sampled BOOLEAN NOT NULL
);
