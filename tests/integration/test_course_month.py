"""The whole course month in one interval, loaded by the DAG's operators on the local stack (no mocks).

Expected values come from the raw JSON files (tests/integration/course.py), computed with the standard library —
never through project code. Chosen hours are in test_course_hours.py (pytest-xdist runs the two files at once).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.conftest import ScratchWarehouse, load_dag, run_tasks, work_bucket_for
from tests.integration.course import MONTH, expected_for

pytestmark = [pytest.mark.integration, pytest.mark.course_data]


@pytest.fixture(scope="module")
def month_warehouse(course_bucket, course_catalogue, admin_dsn):
    """One warehouse loaded with all of November 2018 by the DAG's operators over the month's interval.

    It starts from the staged catalogue (``begin`` and ``stage_songs`` already ran over the month), so here
    ``stage_songs`` lists the 14,896 objects and reads none; every other task runs in full.
    """
    template, catalogue = course_catalogue
    wh = ScratchWarehouse(admin_dsn, "test_course_month", template=template)
    try:
        with wh.as_redshift_connection():
            dag = load_dag()
            dag.get_task("stage_events").s3_key = "log_data/2018/11/"  # the month: every daily file
            events: dict = {}
            results = run_tasks(dag, *MONTH, bucket=course_bucket, asset_events=events)
        yield wh, {**results, "stage_songs (catalogue)": catalogue, "asset events": events}
    finally:
        wh.drop()


def test_month_row_counts(month_warehouse, raw):
    wh, results = month_warehouse
    events, songs = raw
    assert results["stage_events"]["rows_staged"] == 8056 == len(events)
    assert results["stage_events"]["objects_read"] == 30
    assert results["stage_songs (catalogue)"]["rows_staged"] == 14896 == len(songs)
    assert results["stage_songs (catalogue)"]["objects_read"] == 14896
    assert results["stage_songs"]["objects_listed"] == 14896  # the month's own run: nothing new to read
    assert results["stage_songs"]["objects_read"] == results["stage_songs"]["rows_staged"] == 0
    assert wh.scalar("SELECT COUNT(*) FROM songplays") == 6820
    assert wh.scalar("SELECT COUNT(song_id) FROM songplays") == 319
    assert wh.scalar("SELECT COUNT(*) FROM users") == 97
    assert wh.scalar("SELECT COUNT(*) FROM songs") == 14896
    assert wh.scalar("SELECT COUNT(*) FROM artists") == 9553
    assert wh.scalar('SELECT COUNT(*) FROM "time"') == 6813
    assert results["run_quality_checks"]  # every check passed (a failure raises)


def test_month_matches_raw_expectations(month_warehouse, raw):
    wh, _ = month_warehouse
    expected = expected_for(*raw, *MONTH)
    assert wh.scalar("SELECT COUNT(*) FROM songplays") == expected["songplays"]
    assert wh.scalar("SELECT COUNT(song_id) FROM songplays") == expected["resolved"]
    assert wh.scalar('SELECT COUNT(*) FROM "time"') == expected["time"]
    assert dict(wh.query("SELECT user_id, level FROM users")) == expected["users"]


def test_month_text_round_trips(month_warehouse, raw):
    """JSON numbers where text is expected load as their text; other text loads exactly."""
    wh, _ = month_warehouse
    _, songs = raw
    numeric_titles = {s["song_id"]: str(s["title"]) for s in songs if isinstance(s["title"], (int, float))}
    assert numeric_titles  # the course data has 19
    loaded = dict(wh.query("SELECT song_id, title FROM songs WHERE song_id = ANY(%s)", (list(numeric_titles),)))
    assert loaded == numeric_titles
    by_id = {s["song_id"]: s for s in songs}
    for song_id, title, year in wh.query("SELECT song_id, title, year FROM songs ORDER BY song_id LIMIT 500"):
        assert title == str(by_id[song_id]["title"])
        assert year == (by_id[song_id]["year"] or None)


def test_month_artists_are_one_row_each_and_from_the_source(month_warehouse, raw):
    wh, _ = month_warehouse
    _, songs = raw
    rows_by_artist = defaultdict(set)
    for s in songs:
        rows_by_artist[s["artist_id"]].add(str(s["artist_name"]))
    loaded = wh.query("SELECT artist_id, name FROM artists")
    assert len(loaded) == len({a for a, _ in loaded}) == len(rows_by_artist)
    assert all(name in rows_by_artist[artist_id] for artist_id, name in loaded)


def test_month_asset_events_name_the_tables_that_changed(month_warehouse):
    """Each writer emits its table's asset event with its counts; stage_songs read nothing new: no event."""
    _, results = month_warehouse
    events = results["asset events"]
    assert events["stage_songs"] == []
    assert events["begin"] == events["end"] == []
    for task, table in [
        ("stage_events", "staging_events"),
        ("load_songplays", "songplays"),
        ("load_users", "users"),
        ("load_songs", "songs"),
        ("load_artists", "artists"),
        ("load_time", "time"),
        ("run_quality_checks", "quality_results"),
    ]:
        assert [name for name, _ in events[task]] == [f"sparkify.public.{table}"], task
    ((_, extra),) = events["load_songplays"]
    assert extra["inserted"] == 6820
    assert extra["data_interval_start"] == "2018-11-01 00:00:00"
    assert events["stage_events"][0][1]["rows_staged"] == 8056


def test_the_report_shows_what_the_warehouse_holds(month_warehouse, course_bucket, tmp_path):
    """The analytics DAG's tasks on the month, then the page in headless chromium: its numbers are the warehouse's."""
    import importlib.util

    from tests.browser import chromium
    from tests.conftest import ROOT
    from tools.seed import s3_client

    wh, _ = month_warehouse
    spec = importlib.util.spec_from_file_location("sparkify_analytics", ROOT / "dags" / "sparkify_analytics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.dag.get_task("publish_report").local_path = str(tmp_path / "report.html")
    events: dict = {}
    with wh.as_redshift_connection():
        results = run_tasks(module.dag, *MONTH, bucket=course_bucket, asset_events=events)
    assert results["build_analytics_tables"]["plays_by_hour_weekday"]["rows"] == 7 * 24
    assert len(events["build_analytics_tables"]) == 8  # one asset event per answer table

    # The answers, straight from the star schema (not through the analytics SQL).
    top_song, top_plays = wh.query(
        "SELECT s.title, COUNT(*) FROM songplays sp JOIN songs s USING (song_id) GROUP BY sp.song_id, s.title "
        "ORDER BY 2 DESC, sp.song_id LIMIT 1"
    )[0]
    paid_share = wh.scalar("SELECT ROUND(100.0 * COUNT(*) FILTER (WHERE level = 'paid') / COUNT(*), 1) FROM songplays")
    resolved = wh.scalar("SELECT COUNT(song_id) FROM songplays")
    sessions = wh.scalar("SELECT COUNT(DISTINCT (user_id, session_id)) FROM songplays")
    upgrades = wh.scalar(
        "SELECT COUNT(*) FROM (SELECT level, LAG(level) OVER (PARTITION BY user_id ORDER BY start_time, songplay_id)"
        " AS prev FROM songplays WHERE user_id IS NOT NULL) AS p WHERE prev = 'free' AND level = 'paid'"
    )
    assert (top_plays, resolved) == (37, 319)  # the course month

    page_path = tmp_path / "report.html"
    assert results["publish_report"]["local_path"] == str(page_path)
    obj = s3_client().get_object(Bucket=work_bucket_for(course_bucket), Key="reports/latest.html")
    assert obj["ContentType"].startswith("text/html")
    assert obj["Body"].read() == page_path.read_bytes()

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        outside: list[str] = []  # the page must need nothing but itself

        def block_outside(route):
            if not route.request.url.startswith(("file:", "data:", "blob:")):
                outside.append(route.request.url)
                return route.abort()
            return route.continue_()

        page.route("**/*", block_outside)
        page.goto(page_path.as_uri())
        for chart in (
            "top_songs",
            "top_artists",
            "plays_by_hour_weekday",
            "listening_by_level",
            "daily_active_users",
            "sessions",
        ):
            page.wait_for_selector(f"#chart-{chart} .main-svg", timeout=30_000)  # drawn by the embedded plotly.js

        def kpi(name: str) -> str:
            return page.locator(f"[data-kpi={name}]").inner_text()

        assert kpi("plays") == "6,820"
        assert kpi("top-song-plays") == f"{top_plays:,}"
        assert kpi("top-song-title") == top_song
        assert kpi("paid-share") == f"{paid_share:.1f}%"
        assert kpi("resolved-plays") == f"{resolved:,}"
        assert kpi("sessions") == f"{sessions:,}"
        assert kpi("upgrades").split(" / ")[0] == f"{upgrades:,}"
        assert kpi("first-play").startswith("2018-11-01")
        assert kpi("last-play").startswith("2018-11-30")
        first_row = page.locator("[data-table=top_songs] tbody tr").first.locator("td").all_inner_texts()
        assert first_row[1] == top_song
        assert str(top_plays) in first_row
        page.screenshot(path=str(tmp_path / "report.png"))
        assert outside == []
    assert (tmp_path / "report.png").stat().st_size > 50_000  # a picture, not a blank page
