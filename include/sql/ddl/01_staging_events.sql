-- Raw log events, one row per JSON line. Columns follow log_json_path.json in order; staged_from is the
-- S3 location (object or prefix) the row was staged from, so re-staging a location replaces exactly its rows.
CREATE TABLE IF NOT EXISTS staging_events (
    artist VARCHAR(65535),
    auth VARCHAR(64),
    first_name VARCHAR(65535),
    gender VARCHAR(16),
    item_in_session INTEGER,
    last_name VARCHAR(65535),
    length DOUBLE PRECISION,
    level VARCHAR(16),
    location VARCHAR(65535),
    method VARCHAR(16),
    page VARCHAR(64),
    registration DOUBLE PRECISION,
    session_id BIGINT,
    song VARCHAR(65535),
    status INTEGER,
    ts TIMESTAMP,
    user_agent VARCHAR(65535),
    user_id VARCHAR(64),
    staged_from VARCHAR(1024) NOT NULL
);
