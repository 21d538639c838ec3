-- PostgreSQL only: Redshift sorts and distributes automatically (SORTKEY/DISTSTYLE AUTO).
CREATE INDEX IF NOT EXISTS staging_events_ts_idx ON staging_events (ts);
