-- Which intervals analysts may see: published once their blocking checks passed, or held back with the checks that
-- failed (observed vs expected, as JSON). One row per interval; the latest check of it decides.
CREATE TABLE IF NOT EXISTS publications (
    interval_start TIMESTAMP NOT NULL,
    interval_end TIMESTAMP NOT NULL,
    status VARCHAR(16) NOT NULL,
    dag_id VARCHAR(256) NOT NULL,
    run_id VARCHAR(256) NOT NULL,
    failed_checks VARCHAR(65535),
    warned_checks VARCHAR(65535),
    checked_at TIMESTAMP NOT NULL
);
