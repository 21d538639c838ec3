-- artists: one row per artist_id. Source rows of one artist often disagree (name spellings, locations);
-- the pick is deterministic: the most complete row (has a location, then coordinates), then by value.
WITH ranked AS (
    SELECT
        s.artist_id,
        s.artist_name,
        s.artist_location,
        s.artist_latitude,
        s.artist_longitude,
        ROW_NUMBER() OVER (
            PARTITION BY s.artist_id
            ORDER BY
                CASE WHEN COALESCE(s.artist_location, '') <> '' THEN 0 ELSE 1 END,
                CASE WHEN s.artist_latitude IS NOT NULL AND s.artist_longitude IS NOT NULL THEN 0 ELSE 1 END,
                s.artist_name,
                s.artist_location,
                s.artist_latitude,
                s.artist_longitude
        ) AS pick
    FROM staging_songs AS s
    WHERE s.artist_id IS NOT NULL
)

SELECT
    r.artist_id,
    r.artist_name AS name,
    r.artist_location AS location,
    r.artist_latitude AS latitude,
    r.artist_longitude AS longitude
FROM ranked AS r
WHERE r.pick = 1
