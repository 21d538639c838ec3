-- Redshift: a small dimension. DISTSTYLE AUTO keeps a full copy on every node (ALL) while it is small,
-- so joins from songplays need no redistribution, and switches to EVEN if it grows. Sorted by its key.
-- Dimension: one row per non-empty userId; attributes (level included) from the user's latest event.
-- last_seen_at is that event's time: it makes the load order-independent.
CREATE TABLE IF NOT EXISTS users (
    user_id VARCHAR(64) NOT NULL,
    first_name VARCHAR(65535),
    last_name VARCHAR(65535),
    gender VARCHAR(16),
    level VARCHAR(16),
    last_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id)
)
DISTSTYLE AUTO
SORTKEY (user_id);
