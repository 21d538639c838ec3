-- Intervals held back from the analysts, newest first, with the checks that failed.
SELECT
    p.interval_start,
    p.interval_end,
    p.dag_id,
    p.run_id,
    p.failed_checks,
    p.checked_at
FROM publications AS p
WHERE p.status = 'held_back'
ORDER BY p.interval_start DESC
