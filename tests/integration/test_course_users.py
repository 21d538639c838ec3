"""Users on the real course data: each keeps the level of their latest event, whatever order days are loaded in.

Expected values come from the raw JSON files (tests/integration/course.py), computed with the standard library —
never through project code. Needs only the seeded bucket, not the staged song catalogue, so it runs beside the
month and the hours (pytest-xdist).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ScratchWarehouse, load_dag, run_tasks, utc

pytestmark = [pytest.mark.integration, pytest.mark.course_data]


def test_raw_files_match_the_documented_facts(raw):
    events, songs = raw
    assert len(events) == 8056
    assert sum(e["page"] == "NextSong" for e in events) == 6820
    assert len(songs) == 14896


def test_users_keep_their_latest_level_whatever_the_load_order(course_bucket, admin_dsn, raw, monkeypatch):
    """Loading the month's days newest-first gives the same users as oldest-first: each user's latest level."""
    events, _ = raw
    days = [(utc(2018, 11, 1) + timedelta(days=d), utc(2018, 11, 1) + timedelta(days=d + 1)) for d in range(30)]
    tasks = ["begin", "stage_events", "load_songplays", "load_users"]
    snapshots = []
    for order in (days, list(reversed(days))):
        wh = ScratchWarehouse(admin_dsn, f"test_users_order_{len(snapshots)}")
        monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", wh.conn_uri)
        try:
            dag = load_dag()
            for start, end in order:
                run_tasks(dag, start, end, bucket=course_bucket, task_ids=tasks)
            snapshots.append(wh.snapshot(("users",)))
        finally:
            wh.drop()
    assert snapshots[0] == snapshots[1]
    latest = {}
    for e in sorted(events, key=lambda e: e["ts"]):
        if e["userId"]:
            latest[e["userId"]] = e["level"]
    assert {row[0]: row[4] for row in snapshots[0]["users"]} == latest
    switched = {e["userId"] for e in events if e["userId"] and e["level"] != latest[e["userId"]]}
    assert switched  # the data does have users who switched between free and paid
