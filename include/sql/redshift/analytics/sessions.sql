-- Sessions and their length: one row per listening session (a user's session_id), from its first play's start
-- to its last play's start (a one-play session lasts 0 minutes). Redshift: DATEDIFF, not EXTRACT on intervals.
SELECT
    sp.user_id,
    sp.session_id,
    MIN(sp.start_time) AS started_at,
    MAX(sp.start_time) AS last_play_at,
    COUNT(*) AS plays,
    ROUND(DATEDIFF(MILLISECOND, MIN(sp.start_time), MAX(sp.start_time)) / 60000.0, 1) AS minutes
FROM published_songplays AS sp
GROUP BY sp.user_id, sp.session_id
ORDER BY started_at, sp.session_id
