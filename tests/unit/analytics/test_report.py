"""The report's numbers and page from given answers (no database; the browser test reads the real page)."""

from __future__ import annotations

from datetime import datetime

from sparkify.analytics import report

ANSWERS = {
    "top_songs": [
        {"song_id": "S1", "title": "Song <One>", "artist_name": "A", "plays": 5, "listeners": 2},
        {"song_id": "S2", "title": "Two", "artist_name": "B", "plays": 3, "listeners": 3},
    ],
    "top_artists": [{"artist_id": "A1", "artist_name": "A", "plays": 5, "songs_played": 1, "listeners": 2}],
    "plays_by_hour_weekday": [{"weekday": d, "hour": h, "plays": d + h} for d in range(7) for h in range(24)],
    "listening_by_level": [
        {"level": "paid", "plays": 8, "listeners": 2, "share_of_plays_pct": 80.0},
        {"level": "free", "plays": 2, "listeners": 3, "share_of_plays_pct": 20.0},
    ],
    "level_changes": [
        {
            "user_id": "1",
            "first_name": "F",
            "last_name": "L",
            "from_level": "free",
            "to_level": "paid",
            "changed_by": datetime(2018, 11, 2),
            "change": "upgrade",
        }
    ],
    "daily_active_users": [{"day": "2018-11-01", "active_users": 3, "paid_users": 2, "plays": 10}],
    "song_resolution": [{"plays": 10, "resolved_plays": 8, "unresolved_plays": 2, "resolved_pct": 80.0}],
    "sessions": [{"user_id": "1", "session_id": 1, "plays": 2, "minutes": m} for m in (0, 0.5, 7, 250)],
}
COVERAGE = {
    "first_play": datetime(2018, 11, 1, 0, 5),
    "last_play": datetime(2018, 11, 1, 23, 0),
    "songplays": 10,
    "users": 3,
    "songs": 2,
    "artists": 1,
}


def test_kpis_come_from_the_answers():
    k = report.kpis(ANSWERS, COVERAGE)
    assert k == {
        "plays": 10,
        "users": 3,
        "paid_share_pct": 80.0,
        "resolved_pct": 80.0,
        "sessions": 4,
        "median_session_minutes": 3.75,
        "upgrades": 1,
        "downgrades": 0,
        "top_song_title": "Song <One>",
        "top_song_plays": 5,
    }


def test_session_histogram_buckets_by_minutes():
    labels, counts = report.session_histogram(ANSWERS["sessions"])
    assert labels[0] == "0–1"
    assert labels[-1] == "240+"
    assert counts[0] == 2
    assert counts[2] == 1
    assert counts[-1] == 1
    assert sum(counts) == 4


def test_the_page_is_self_contained_escaped_and_says_what_it_covers():
    html = report.render(
        ANSWERS,
        COVERAGE,
        built_at=datetime(2026, 1, 2, 3, 4, 5),
        built_by="sparkify_analytics run r1",
        source_runs=["sparkify_etl/scheduled__2018-11-01T22:00:00+00:00"],
        engine="postgres",
    )
    assert "<script src=" not in html
    assert "<link " not in html  # nothing fetched: the browser test blocks and counts outside requests
    assert "Song &lt;One&gt;" in html
    assert "Song <One>" not in html
    assert 'data-kpi="first-play">2018-11-01 00:05' in html
    assert 'Built <span data-kpi="built-at">2026-01-02 03:04:05</span> UTC by sparkify_analytics run r1' in html
    assert "sparkify_etl/scheduled__2018-11-01T22:00:00+00:00" in html
    assert all(f'id="chart-{name}"' in html for name in ("top_songs", "plays_by_hour_weekday", "sessions"))


def test_a_warehouse_with_few_plays_still_gets_a_page():
    """One loaded hour: no level changes, no resolved plays — empty answers render as 'No rows yet.'"""
    empty = {**ANSWERS, "level_changes": [], "top_songs": [], "top_artists": [], "sessions": []}
    html = report.render(empty, COVERAGE, built_at=datetime(2026, 1, 2), built_by="t", source_runs=[], engine="pg")
    assert 'data-empty="level_changes"' in html
    assert 'data-empty="top_songs"' in html
    assert report.kpis(empty, COVERAGE)["median_session_minutes"] == 0
