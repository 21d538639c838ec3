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
);
