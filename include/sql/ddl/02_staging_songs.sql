-- Raw song metadata, one row per song object; column names are the JSON keys (COPY 'auto').
CREATE TABLE IF NOT EXISTS staging_songs (
    artist_id VARCHAR(64),
    artist_latitude DOUBLE PRECISION,
    artist_location VARCHAR(65535),
    artist_longitude DOUBLE PRECISION,
    artist_name VARCHAR(65535),
    duration DOUBLE PRECISION,
    num_songs INTEGER,
    song_id VARCHAR(64),
    title VARCHAR(65535),
    year INTEGER,
    staged_from VARCHAR(1024) NOT NULL
);
