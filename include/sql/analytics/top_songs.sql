-- Which songs do users play most? The 20 most played songs that resolve to the catalogue, with their artist.
SELECT
    sp.song_id,
    s.title,
    a.name AS artist_name,
    COUNT(*) AS plays,
    COUNT(DISTINCT sp.user_id) AS listeners
FROM published_songplays AS sp
INNER JOIN songs AS s ON sp.song_id = s.song_id
LEFT JOIN artists AS a ON sp.artist_id = a.artist_id
GROUP BY sp.song_id, s.title, a.name
ORDER BY plays DESC, sp.song_id ASC
LIMIT 20
