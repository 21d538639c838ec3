-- Redshift: DISTSTYLE AUTO (ALL while small, as for users); sorted by its key, the upsert's join column.
-- Dimension: one row per artist_id (a deterministic pick where source rows disagree, see load/artists.sql).
CREATE TABLE IF NOT EXISTS artists (
    artist_id VARCHAR(64) NOT NULL,
    name VARCHAR(65535),
    location VARCHAR(65535),
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    PRIMARY KEY (artist_id)
)
DISTSTYLE AUTO
SORTKEY (artist_id);
