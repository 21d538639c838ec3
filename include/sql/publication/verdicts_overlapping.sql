-- The ledger's verdicts on intervals that overlap one interval (an hour is covered by its own verdict or by its
-- day's), published ones first.
SELECT
    p.interval_start,
    p.interval_end,
    p.status,
    p.dag_id,
    p.run_id,
    p.failed_checks
FROM publications AS p
WHERE
    p.interval_start < %(data_interval_end)s
    AND p.interval_end > %(data_interval_start)s
ORDER BY p.status DESC, p.interval_start ASC
