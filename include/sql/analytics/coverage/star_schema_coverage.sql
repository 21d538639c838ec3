-- What the analytics answers cover: the period of the plays and the size of the star schema.
SELECT
    (SELECT MIN(sp.start_time) FROM songplays AS sp) AS first_play,
    (SELECT MAX(sp.start_time) FROM songplays AS sp) AS last_play,
    (SELECT COUNT(*) FROM songplays) AS songplays,
    (SELECT COUNT(*) FROM users) AS users,
    (SELECT COUNT(*) FROM songs) AS songs,
    (SELECT COUNT(*) FROM artists) AS artists
