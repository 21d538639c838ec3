"""The whole course month in one interval, loaded by the DAG's operators on the local stack (no mocks).

Expected values come from the raw JSON files (tests/integration/course.py), computed with the standard library —
never through project code. Chosen hours are in test_course_hours.py (pytest-xdist runs the two files at once).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.conftest import ScratchWarehouse, load_dag, run_tasks
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
            results = run_tasks(dag, *MONTH, bucket=course_bucket)
        yield wh, {**results, "stage_songs (catalogue)": catalogue}
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
