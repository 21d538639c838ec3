-- Redshift: DISTSTYLE AUTO (ALL while small, as for users); sorted by its key, the upsert's join column.
-- Dimension: one row per song_id. year is NULL where the source says 0 (unknown).
CREATE TABLE IF NOT EXISTS songs (
    song_id VARCHAR(64) NOT NULL,
    title VARCHAR(65535),
    artist_id VARCHAR(64),
    year INTEGER,
    duration DOUBLE PRECISION,
    PRIMARY KEY (song_id)
)
DISTSTYLE AUTO
SORTKEY (song_id);
