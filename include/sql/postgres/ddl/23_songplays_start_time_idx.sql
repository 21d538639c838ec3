CREATE INDEX IF NOT EXISTS songplays_start_time_idx ON songplays (start_time);
