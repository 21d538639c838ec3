-- When do users listen? Plays by weekday (0 = Sunday) and hour of day (UTC): all 7 × 24 cells, empty ones 0.
WITH weekdays AS (
    SELECT 0 AS n
    UNION ALL
    SELECT 1
    UNION ALL
    SELECT 2
    UNION ALL
    SELECT 3
    UNION ALL
    SELECT 4
    UNION ALL
    SELECT 5
    UNION ALL
    SELECT 6
),

grid AS (  -- hour = 6a + b with a in 0..3 and b in 0..5 gives 0..23
    SELECT
        w.n AS weekday,
        a.n * 6 + b.n AS hour
    FROM weekdays AS w
    CROSS JOIN weekdays AS a
    CROSS JOIN weekdays AS b
    WHERE a.n < 4 AND b.n < 6
),

cells AS (
    SELECT
        t.weekday,
        t.hour,
        COUNT(*) AS plays
    FROM published_songplays AS sp
    INNER JOIN "time" AS t ON sp.start_time = t.start_time
    GROUP BY t.weekday, t.hour
)

SELECT
    g.weekday,
    g.hour,
    COALESCE(c.plays, 0) AS plays
FROM grid AS g
LEFT JOIN cells AS c ON g.weekday = c.weekday AND g.hour = c.hour
ORDER BY g.weekday, g.hour
