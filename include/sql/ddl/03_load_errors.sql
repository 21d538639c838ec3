-- Lines rejected while staging under a max_errors allowance (the embedded default's stl_load_errors).
CREATE TABLE IF NOT EXISTS load_errors (
    run_id VARCHAR(256) NOT NULL,
    staging_table VARCHAR(128) NOT NULL,
    s3_key VARCHAR(1024) NOT NULL,
    line_number BIGINT NOT NULL,
    reason VARCHAR(1024) NOT NULL,
    excerpt VARCHAR(1024),
    recorded_at TIMESTAMP NOT NULL
);
