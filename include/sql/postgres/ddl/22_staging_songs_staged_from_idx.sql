CREATE INDEX IF NOT EXISTS staging_songs_staged_from_idx ON staging_songs (staged_from);
