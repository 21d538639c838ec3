-- songs: one row per song_id from everything staged; year 0 in the source means unknown.
WITH ranked AS (
    SELECT
        s.song_id,
        s.title,
        s.artist_id,
        s.year,
        s.duration,
        ROW_NUMBER() OVER (
            PARTITION BY s.song_id
            ORDER BY s.title, s.artist_id, s.year, s.duration
        ) AS pick
    FROM staging_songs AS s
    WHERE s.song_id IS NOT NULL
)

SELECT
    r.song_id,
    r.title,
    r.artist_id,
    r.duration,
    NULLIF(r.year, 0) AS year
FROM ranked AS r
WHERE r.pick = 1
