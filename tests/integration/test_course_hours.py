"""Chosen hours of the course data as hourly runs of the DAG's operators on the local stack (no mocks).

Expected values come from the raw JSON files (tests/integration/course.py), computed with the standard library —
never through project code. The whole month in one interval is in test_course_month.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import LOAD_TASKS, ScratchWarehouse, load_dag, run_tasks, utc
from tests.integration.course import expected_for

pytestmark = [pytest.mark.integration, pytest.mark.course_data]


CHOSEN_HOURS = [utc(2018, 11, 15, 16), utc(2018, 11, 28, 21), utc(2018, 11, 1, 21), utc(2018, 11, 30, 3)]


@pytest.fixture(scope="module")
def hourly_warehouse(course_catalogue, admin_dsn):
    """A warehouse with the song catalogue staged once (a copy of the catalogue); the tests load hours into it."""
    wh = ScratchWarehouse(admin_dsn, "test_course_hours", template=course_catalogue[0])
    try:
        with wh.as_redshift_connection():
            yield wh, load_dag()
    finally:
        wh.drop()


HOURLY_TASKS = [*LOAD_TASKS[1:], "run_quality_checks"]  # the catalogue is staged: no begin


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
    assert (
        wh.scalar(
            "SELECT COUNT(*) FROM songplays WHERE start_time >= %s AND start_time < %s",
            (hour.replace(tzinfo=None), (hour + timedelta(hours=1)).replace(tzinfo=None)),
        )
        > 0
    )
