"""The Sparkify warehouse's data-quality checks: every check the DAG runs, declared in this one place.

Fact and time checks look at the run's data interval only (``interval_column``), so an hour with no plays
passes honestly and a broken hour is not hidden by the rest of the table. Dimension checks look at the whole
table (dimensions are cumulative).
"""

from __future__ import annotations

from sparkify.quality import (
    accepted_values,
    custom_sql,
    freshness,
    in_interval,
    not_null,
    reconciliation,
    relationships,
    row_count,
    unique,
    volume_vs_history,
)

PLAYS = "start_time"  # the fact's (and time's) interval column

SPARKIFY_CHECKS = [
    # songplays — the interval's rows
    not_null(
        "songplays", ["songplay_id", "start_time", "user_id", "session_id", "item_in_session"], interval_column=PLAYS
    ),
    unique("songplays", ["songplay_id"], interval_column=PLAYS),
    unique("songplays", ["session_id", "item_in_session"], interval_column=PLAYS),
    accepted_values("songplays", "level", ["free", "paid"], interval_column=PLAYS),
    relationships("songplays", "user_id", "users", "user_id", interval_column=PLAYS),
    relationships("songplays", "song_id", "songs", "song_id", interval_column=PLAYS),
    relationships("songplays", "artist_id", "artists", "artist_id", interval_column=PLAYS),
    relationships("songplays", "start_time", "time", "start_time", interval_column=PLAYS),
    reconciliation(
        "songplays loaded = NextSong events staged, for the interval",
        actual=f"SELECT COUNT(*) FROM songplays WHERE {in_interval(PLAYS)}",
        expected="SELECT COUNT(DISTINCT CAST(session_id AS VARCHAR) || '-' || CAST(item_in_session AS VARCHAR))"
        f" FROM staging_events WHERE page = 'NextSong' AND {in_interval('ts')}",
        table="songplays",
    ),
    row_count("songplays", minimum=0, maximum=100_000, interval_column=PLAYS, severity="warn"),
    freshness("songplays", PLAYS, max_age_seconds=24 * 3600, severity="warn"),
    # volume: the interval against the same hour of the previous four weeks (a drop of over half warns)
    volume_vs_history("songplays", PLAYS),
    volume_vs_history("staging_events", "ts", where="page = 'NextSong'", label="NextSong events staged"),
    # staging: lines this run rejected under its budget (see load_errors)
    custom_sql(
        "load_errors: lines rejected by this run's staging",
        "SELECT COUNT(*) FROM load_errors WHERE run_id = %(run_id)s",
        expected=0,
        severity="warn",
        table="load_errors",
    ),
    # users
    not_null("users", ["user_id", "level", "last_seen_at"]),
    unique("users", ["user_id"]),
    accepted_values("users", "level", ["free", "paid"]),
    accepted_values("users", "gender", ["F", "M"], severity="warn"),
    # songs
    not_null("songs", ["song_id"]),
    unique("songs", ["song_id"]),
    row_count("songs", minimum=1),
    # artists
    not_null("artists", ["artist_id"]),
    unique("artists", ["artist_id"]),
    row_count("artists", minimum=1),
    # time — the interval's rows
    not_null("time", ["start_time", "hour", "day", "week", "month", "year", "weekday"], interval_column=PLAYS),
    unique("time", ["start_time"], interval_column=PLAYS),
    custom_sql(
        "time: calendar parts in range, for the interval",
        f'SELECT COUNT(*) FROM "time" WHERE {in_interval(PLAYS)} AND (hour NOT BETWEEN 0 AND 23'
        " OR weekday NOT BETWEEN 0 AND 6 OR week NOT BETWEEN 1 AND 53 OR day NOT BETWEEN 1 AND 31"
        " OR month NOT BETWEEN 1 AND 12)",
        expected=0,
        table="time",
    ),
]
