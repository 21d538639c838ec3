-- The period the analysts' data covers: the first and last published interval, and how many are held back.
SELECT
    MIN(CASE WHEN p.status = 'published' THEN p.interval_start END) AS published_from,
    MAX(CASE WHEN p.status = 'published' THEN p.interval_end END) AS published_to,
    COALESCE(SUM(CASE WHEN p.status = 'held_back' THEN 1 ELSE 0 END), 0) AS held_back
FROM publications AS p
