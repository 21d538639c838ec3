-- How many plays resolve to a known song? Plays whose song, artist and duration match the catalogue.
SELECT
    COUNT(*) AS plays,
    COUNT(sp.song_id) AS resolved_plays,
    COUNT(*) - COUNT(sp.song_id) AS unresolved_plays,
    ROUND(100.0 * COUNT(sp.song_id) / NULLIF(COUNT(*), 0), 2) AS resolved_pct
FROM published_songplays AS sp
