"""DAG integrity of sparkify_deadlines: a quarter-hourly watch over sparkify_etl's hours, reading only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import load_dag


@pytest.fixture(scope="module")
def dag():
    return load_dag("sparkify_deadlines")


def test_every_quarter_hour_one_task_watches_the_hourly_dag_with_the_deadline_setting(dag):
    from sparkify.timetables import QuarterHourlyDataIntervalTimetable

    assert isinstance(dag.timetable, QuarterHourlyDataIntervalTimetable)
    assert (dag.catchup, dag.max_active_runs) == (False, 1)
    (task,) = dag.tasks
    assert (task.task_id, task.watched_dag_id, task.deadline) == ("check_deadlines", "sparkify_etl", timedelta(hours=3))
    assert task.execution_timeout == timedelta(minutes=5)
    assert task.pool == "default_pool"  # it only reads the warehouse: it never waits behind a writer
    assert dag.doc_md
    assert task.doc_md


def test_the_deadline_is_a_setting(monkeypatch):
    monkeypatch.setenv("SPARKIFY_DEADLINE", "90m")
    assert load_dag("sparkify_deadlines").get_task("check_deadlines").deadline == timedelta(minutes=90)
