-- How many users listen each day? Active users (at least one play), plays and paid listeners per UTC day.
SELECT
    CAST(DATE_TRUNC('day', sp.start_time) AS DATE) AS day,
    COUNT(DISTINCT sp.user_id) AS active_users,
    COUNT(DISTINCT CASE WHEN sp.level = 'paid' THEN sp.user_id END) AS paid_users,
    COUNT(*) AS plays
FROM published_songplays AS sp
GROUP BY CAST(DATE_TRUNC('day', sp.start_time) AS DATE)
ORDER BY day
