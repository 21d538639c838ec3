-- users seen in one data interval, merged with their current rows: each user keeps the attributes of their
-- latest event (by ts) among everything loaded so far, whatever order the hours are loaded in.
-- Ties on ts break on the values themselves, so the pick never depends on load order.
WITH interval_users AS (
    SELECT
        e.user_id,
        e.first_name,
        e.last_name,
        e.gender,
        e.level,
        e.ts AS last_seen_at
    FROM staging_events AS e
    WHERE
        e.user_id <> ''
        AND e.ts >= %(data_interval_start)s
        AND e.ts < %(data_interval_end)s
),

candidates AS (
    SELECT
        i.user_id,
        i.first_name,
        i.last_name,
        i.gender,
        i.level,
        i.last_seen_at
    FROM interval_users AS i
    UNION ALL
    SELECT
        u.user_id,
        u.first_name,
        u.last_name,
        u.gender,
        u.level,
        u.last_seen_at
    FROM users AS u
    WHERE u.user_id IN (SELECT iu.user_id FROM interval_users AS iu)
),

ranked AS (
    SELECT
        c.user_id,
        c.first_name,
        c.last_name,
        c.gender,
        c.level,
        c.last_seen_at,
        ROW_NUMBER() OVER (
            PARTITION BY c.user_id
            ORDER BY c.last_seen_at DESC, c.level DESC, c.first_name ASC, c.last_name ASC, c.gender ASC
        ) AS recency
    FROM candidates AS c
)

SELECT
    r.user_id,
    r.first_name,
    r.last_name,
    r.gender,
    r.level,
    r.last_seen_at
FROM ranked AS r
WHERE r.recency = 1
