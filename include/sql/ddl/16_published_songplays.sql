-- The fact as analysts see it: plays of published intervals, none of an interval held back. An hour held back
-- stays hidden even inside a published day, until it is re-run and passes.
CREATE OR REPLACE VIEW published_songplays AS
SELECT
    sp.songplay_id,
    sp.start_time,
    sp.user_id,
    sp.level,
    sp.song_id,
    sp.artist_id,
    sp.session_id,
    sp.item_in_session,
    sp.location,
    sp.user_agent
FROM songplays AS sp
WHERE
    EXISTS (
        SELECT 1
        FROM publications AS p
        WHERE
            p.status = 'published'
            AND sp.start_time >= p.interval_start
            AND sp.start_time < p.interval_end
    )
    AND NOT EXISTS (
        SELECT 1
        FROM publications AS h
        WHERE
            h.status = 'held_back'
            AND sp.start_time >= h.interval_start
            AND sp.start_time < h.interval_end
    )
