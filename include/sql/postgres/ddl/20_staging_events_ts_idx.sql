-- PostgreSQL only: indexes for the interval filters (Redshift uses sort keys, see redshift/ddl).
CREATE INDEX IF NOT EXISTS staging_events_ts_idx ON staging_events (ts);
