-- Who upgraded or downgraded? Every change of a user's level between two consecutive plays.
WITH plays AS (
    SELECT
        sp.user_id,
        sp.start_time,
        sp.level,
        LAG(sp.level) OVER (PARTITION BY sp.user_id ORDER BY sp.start_time, sp.songplay_id) AS previous_level
    FROM published_songplays AS sp
    WHERE sp.user_id IS NOT NULL
)

SELECT
    p.user_id,
    u.first_name,
    u.last_name,
    p.previous_level AS from_level,
    p.level AS to_level,
    p.start_time AS changed_by,
    CASE WHEN p.level = 'paid' THEN 'upgrade' ELSE 'downgrade' END AS change
FROM plays AS p
LEFT JOIN users AS u ON p.user_id = u.user_id
WHERE p.previous_level IS NOT NULL AND p.level <> p.previous_level
ORDER BY p.start_time, p.user_id
