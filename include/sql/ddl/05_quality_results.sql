-- Every data-quality check result of every run, for analysts to query quality over time.
CREATE TABLE IF NOT EXISTS quality_results (
    run_id VARCHAR(256) NOT NULL,
    logical_date TIMESTAMP,
    check_name VARCHAR(512) NOT NULL,
    severity VARCHAR(8) NOT NULL,
    status VARCHAR(8) NOT NULL,
    observed VARCHAR(1024),
    expected VARCHAR(256) NOT NULL,
    checked_at TIMESTAMP NOT NULL
);
