-- songplays for one data interval: every NextSong event whose ts falls in [start, end).
-- song_id/artist_id resolve by title + artist name + duration; unmatched plays keep NULLs.
-- Duplicate staged events (the same session_id/item_in_session staged twice) collapse to one row.
WITH interval_plays AS (
    SELECT
        e.ts,
        e.user_id,
        e.level,
        e.song,
        e.artist,
        e.length,
        e.session_id,
        e.item_in_session,
        e.location,
        e.user_agent,
        ROW_NUMBER() OVER (
            PARTITION BY e.session_id, e.item_in_session
            ORDER BY e.ts, e.staged_from
        ) AS copy_number
    FROM staging_events AS e
    WHERE
        e.page = 'NextSong'
        AND e.ts >= %(data_interval_start)s
        AND e.ts < %(data_interval_end)s
),

song_matches AS (
    SELECT
        s.song_id,
        s.artist_id,
        s.title,
        s.artist_name,
        s.duration,
        ROW_NUMBER() OVER (
            PARTITION BY s.title, s.artist_name, s.duration
            ORDER BY s.song_id, s.artist_id
        ) AS pick
    FROM staging_songs AS s
)

SELECT
    p.ts AS start_time,
    p.level,
    m.song_id,
    m.artist_id,
    p.session_id,
    p.item_in_session,
    p.location,
    p.user_agent,
    MD5(CAST(p.session_id AS VARCHAR) || '-' || CAST(p.item_in_session AS VARCHAR)) AS songplay_id,
    NULLIF(p.user_id, '') AS user_id
FROM interval_plays AS p
LEFT JOIN song_matches AS m
    ON
        p.song = m.title
        AND p.artist = m.artist_name
        AND p.length = m.duration
        AND m.pick = 1
WHERE p.copy_number = 1
