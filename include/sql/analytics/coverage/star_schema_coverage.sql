-- What the analytics answers cover: the published plays' period and size, their listeners, and the catalogue.
SELECT
    (SELECT MIN(sp.start_time) FROM published_songplays AS sp) AS first_play,
    (SELECT MAX(sp.start_time) FROM published_songplays AS sp) AS last_play,
    (SELECT COUNT(*) FROM published_songplays) AS songplays,
    (SELECT COUNT(DISTINCT sp.user_id) FROM published_songplays AS sp) AS users,
    (SELECT COUNT(*) FROM songs) AS songs,
    (SELECT COUNT(*) FROM artists) AS artists
