-- Redshift: distributed and sorted like songplays (on start_time), so the fact-to-time join is local.
-- Dimension: one row per distinct songplay start_time (millisecond precision), broken into calendar units.
CREATE TABLE IF NOT EXISTS "time" (
    start_time TIMESTAMP NOT NULL,
    hour INTEGER NOT NULL,
    day INTEGER NOT NULL,
    week INTEGER NOT NULL,
    month INTEGER NOT NULL,
    year INTEGER NOT NULL,
    weekday INTEGER NOT NULL,
    PRIMARY KEY (start_time)
)
DISTSTYLE KEY
DISTKEY (start_time)
COMPOUND SORTKEY (start_time);
