CREATE INDEX IF NOT EXISTS staging_events_staged_from_idx ON staging_events (staged_from);
