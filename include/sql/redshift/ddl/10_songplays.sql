-- Redshift: the fact is distributed and sorted on start_time. Every load and quality check filters one
-- interval of start_time (the sort key lets Redshift skip all other blocks), and time shares the key, so
-- joining a play to its time row stays on one slice. start_time has millisecond precision: no skew.
-- Fact: one row per NextSong event. songplay_id = md5(session_id-item_in_session): stable across reruns.
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id VARCHAR(32) NOT NULL,
    start_time TIMESTAMP NOT NULL,
    user_id VARCHAR(64),
    level VARCHAR(16),
    song_id VARCHAR(64),
    artist_id VARCHAR(64),
    session_id BIGINT NOT NULL,
    item_in_session INTEGER NOT NULL,
    location VARCHAR(65535),
    user_agent VARCHAR(65535),
    PRIMARY KEY (songplay_id),
    UNIQUE (session_id, item_in_session)
)
DISTSTYLE KEY
DISTKEY (start_time)
COMPOUND SORTKEY (start_time);
