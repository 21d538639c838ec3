-- Free vs paid: plays, listeners and share of all plays by subscription level at the time of the play.
SELECT
    sp.level,
    COUNT(*) AS plays,
    COUNT(DISTINCT sp.user_id) AS listeners,
    ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 2) AS share_of_plays_pct
FROM published_songplays AS sp
GROUP BY sp.level
ORDER BY plays DESC
