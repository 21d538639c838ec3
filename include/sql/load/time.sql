-- time: the distinct start_time values of the interval's songplays, broken into calendar units
-- (week is the ISO week; weekday 0 = Sunday).
SELECT DISTINCT
    sp.start_time,
    CAST(EXTRACT(HOUR FROM sp.start_time) AS INTEGER) AS hour,
    CAST(EXTRACT(DAY FROM sp.start_time) AS INTEGER) AS day,
    CAST(EXTRACT(WEEK FROM sp.start_time) AS INTEGER) AS week,
    CAST(EXTRACT(MONTH FROM sp.start_time) AS INTEGER) AS month,
    CAST(EXTRACT(YEAR FROM sp.start_time) AS INTEGER) AS year,
    CAST(EXTRACT(DOW FROM sp.start_time) AS INTEGER) AS weekday
FROM songplays AS sp
WHERE
    sp.start_time >= %(data_interval_start)s
    AND sp.start_time < %(data_interval_end)s
