-- The interval's earlier verdict, replaced by the one being recorded.
DELETE FROM publications
WHERE
    interval_start = %(data_interval_start)s
    AND interval_end = %(data_interval_end)s
