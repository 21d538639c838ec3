-- Which S3 objects an incremental stage has loaded, by key and ETag; written in the load's own transaction.
CREATE TABLE IF NOT EXISTS staged_objects (
    staging_table VARCHAR(128) NOT NULL,
    s3_key VARCHAR(1024) NOT NULL,
    etag VARCHAR(128) NOT NULL,
    size_bytes BIGINT NOT NULL,
    run_id VARCHAR(256) NOT NULL,
    staged_at TIMESTAMP NOT NULL,
    PRIMARY KEY (staging_table, s3_key)
);
