"""The DAG's operators on the real course data, against the local PostgreSQL + S3 emulator (no mocks).

Expected values come from the raw JSON files, computed here with the standard library — never through
project code.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import course_data_or_skip, load_dag, run_tasks, utc

pytestmark = [pytest.mark.integration, pytest.mark.course_data]

MONTH = (utc(2018, 11, 1), utc(2018, 12, 1))


# ------------------------------------------------------------------------------------------------------------------
# Independent expectations from the raw files
# ------------------------------------------------------------------------------------------------------------------
def raw_events() -> list[dict]:
    events = []
    for path in sorted((course_data_or_skip() / "log_data").rglob("*.json")):
        events += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return events


def raw_songs() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in (course_data_or_skip() / "song_data").rglob("*.json")]


def ts(event: dict) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=event["ts"])


def expected_for(events: list[dict], songs: list[dict], start: datetime, end: datetime) -> dict:
    lo, hi = start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None)
    inside = [e for e in events if lo <= ts(e) < hi]
    plays = [e for e in inside if e["page"] == "NextSong"]
    catalogue = {(str(s["title"]), str(s["artist_name"]), s["duration"]) for s in songs}
    latest: dict[str, dict] = {}
    for e in sorted(events, key=lambda e: e["ts"]):  # the level of each user's latest event overall so far
        if e["userId"] and lo <= ts(e) < hi:
            latest[e["userId"]] = e
    return {
        "songplays": len(plays),
        "resolved": sum((e["song"], e["artist"], e["length"]) in catalogue for e in plays),
        "time": len({e["ts"] for e in plays}),
        "users": {uid: e["level"] for uid, e in latest.items()},
    }


@pytest.fixture(scope="module")
def raw():
    return raw_events(), raw_songs()


def test_raw_files_match_the_documented_facts(raw):
    events, songs = raw
    assert len(events) == 8056
    assert sum(e["page"] == "NextSong" for e in events) == 6820
    assert len(songs) == 14896


# ------------------------------------------------------------------------------------------------------------------
# The whole month in one interval
# ------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def month_warehouse(course_bucket, admin_dsn):
    """One warehouse loaded with all of November 2018 by the DAG's operators over the month's interval."""
    import os

    from tests.conftest import ScratchWarehouse

    wh = ScratchWarehouse(admin_dsn, "test_course_month")
    previous = os.environ.get("AIRFLOW_CONN_REDSHIFT")
    os.environ["AIRFLOW_CONN_REDSHIFT"] = wh.conn_uri
    try:
        dag = load_dag()
        dag.get_task("stage_events").s3_key = "log_data/2018/11/"  # the month: every daily file
        results = run_tasks(dag, *MONTH, bucket=course_bucket)
        yield wh, results
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_REDSHIFT", None)
        else:
            os.environ["AIRFLOW_CONN_REDSHIFT"] = previous
        wh.drop()


def test_month_row_counts(month_warehouse, raw):
    wh, results = month_warehouse
    events, songs = raw
    assert results["stage_events"]["rows_staged"] == 8056 == len(events)
    assert results["stage_events"]["objects_read"] == 30
    assert results["stage_songs"]["rows_staged"] == 14896 == len(songs)
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


# ------------------------------------------------------------------------------------------------------------------
# Chosen hours, as hourly runs
# ------------------------------------------------------------------------------------------------------------------
CHOSEN_HOURS = [utc(2018, 11, 15, 16), utc(2018, 11, 28, 21), utc(2018, 11, 1, 21), utc(2018, 11, 30, 3)]


@pytest.fixture(scope="module")
def hourly_warehouse(course_bucket, admin_dsn):
    """A warehouse with the song catalogue staged once; hours are loaded into it by the tests."""
    import os

    from tests.conftest import ScratchWarehouse

    wh = ScratchWarehouse(admin_dsn, "test_course_hours")
    previous = os.environ.get("AIRFLOW_CONN_REDSHIFT")
    os.environ["AIRFLOW_CONN_REDSHIFT"] = wh.conn_uri
    dag = load_dag()
    run_tasks(dag, *MONTH, bucket=course_bucket, task_ids=["begin", "stage_songs"])
    try:
        yield wh, dag
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_REDSHIFT", None)
        else:
            os.environ["AIRFLOW_CONN_REDSHIFT"] = previous
        wh.drop()


HOURLY_TASKS = [
    "stage_events",
    "stage_songs",
    "load_songplays",
    "load_users",
    "load_songs",
    "load_artists",
    "load_time",
    "run_quality_checks",
]


@pytest.mark.parametrize("hour", CHOSEN_HOURS, ids=lambda h: h.strftime("%Y-%m-%dT%H"))
def test_chosen_hour_loads_exactly_its_interval(hourly_warehouse, course_bucket, raw, hour):
    wh, dag = hourly_warehouse
    end = hour + timedelta(hours=1)
    run_tasks(dag, hour, end, bucket=course_bucket, task_ids=HOURLY_TASKS)
    expected = expected_for(*raw, hour, end)
    window = {"s": hour.replace(tzinfo=None), "e": end.replace(tzinfo=None)}
    in_hour = "start_time >= %(s)s AND start_time < %(e)s"
    assert wh.scalar(f"SELECT COUNT(*) FROM songplays WHERE {in_hour}", window) == expected["songplays"]
    assert wh.scalar(f"SELECT COUNT(song_id) FROM songplays WHERE {in_hour}", window) == expected["resolved"]
    assert wh.scalar(f'SELECT COUNT(*) FROM "time" WHERE {in_hour}', window) == expected["time"]
    present = {r[0] for r in wh.query("SELECT user_id FROM users WHERE user_id = ANY(%s)", (list(expected["users"]),))}
    assert present == set(expected["users"])  # every user active in the hour


def test_rerunning_an_hour_leaves_every_table_identical(hourly_warehouse, course_bucket):
    wh, dag = hourly_warehouse
    hour = utc(2018, 11, 15, 16)
    run_tasks(dag, hour, hour + timedelta(hours=1), bucket=course_bucket, task_ids=HOURLY_TASKS)
    before = wh.snapshot((*wh.snapshot().keys(), "staging_events"))
    run_tasks(dag, hour, hour + timedelta(hours=1), bucket=course_bucket, task_ids=HOURLY_TASKS)
    assert wh.snapshot((*before.keys(),)) == before
    assert wh.scalar("SELECT COUNT(*) FROM songplays WHERE start_time >= %s AND start_time < %s",
                     (hour.replace(tzinfo=None), (hour + timedelta(hours=1)).replace(tzinfo=None))) > 0  # fmt: skip


def test_users_keep_their_latest_level_whatever_the_load_order(course_bucket, admin_dsn, raw, monkeypatch):
    """Loading the month's days newest-first gives the same users as oldest-first: each user's latest level."""
    from tests.conftest import ScratchWarehouse

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
