-- Which artists do users play most? The 20 most played artists among plays that resolve to the catalogue.
SELECT
    sp.artist_id,
    a.name AS artist_name,
    COUNT(*) AS plays,
    COUNT(DISTINCT sp.song_id) AS songs_played,
    COUNT(DISTINCT sp.user_id) AS listeners
FROM published_songplays AS sp
INNER JOIN artists AS a ON sp.artist_id = a.artist_id
GROUP BY sp.artist_id, a.name
ORDER BY plays DESC, sp.artist_id ASC
LIMIT 20
