-- What the publication ledger says of one interval now (no row: never checked).
SELECT p.status
FROM publications AS p
WHERE
    p.interval_start = %(data_interval_start)s
    AND p.interval_end = %(data_interval_end)s
