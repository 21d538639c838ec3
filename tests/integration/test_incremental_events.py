"""stage_events reads each version of a day's log once: the day's other hours read nothing."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import load_dag, make_bucket, run_tasks, s3_client, utc
from tests.integration.test_bad_input import KEY, event, put
from tools.datagen import JSON_PATHS

pytestmark = pytest.mark.integration

LOAD = ["begin", "stage_events", "load_songplays", "load_users", "load_time"]


def hour(h: int) -> tuple:
    return utc(2018, 11, 15, h), utc(2018, 11, 15, h + 1)


def day_of_events() -> list[dict]:
    return [event(i, ts=1542240000000 + i * 3_600_000 + 17) for i in range(24)]  # one play per hour of 11-15


@pytest.fixture
def bucket(local_stack):
    name = make_bucket()
    s3_client().put_object(Bucket=name, Key="log_json_path.json", Body=json.dumps(JSON_PATHS).encode())
    put(name, KEY, day_of_events())
    return name


def test_a_day_object_is_read_once_and_a_new_version_replaces_exactly_its_rows(bucket, new_warehouse, capfd):
    wh = new_warehouse("events_once")
    dag = load_dag()
    first = run_tasks(dag, *hour(3), bucket=bucket, task_ids=LOAD)["stage_events"]
    assert (first["objects_read"], first["rows_staged"]) == (1, 24)
    second = run_tasks(dag, *hour(4), bucket=bucket, task_ids=LOAD)
    assert (second["stage_events"]["objects_listed"], second["stage_events"]["objects_read"]) == (1, 0)
    assert "nothing to read: all 1 listed objects are staged already, unchanged (same ETag)" in capfd.readouterr().out
    assert second["load_songplays"]["inserted"] == 1  # the hour still loads from what is staged
    assert wh.scalar("SELECT COUNT(*) FROM staging_events") == 24

    put(bucket, KEY, [*day_of_events(), event(99, ts=1542240000000 + 4 * 3_600_000 + 99)])  # re-delivered
    third = run_tasks(dag, *hour(4), bucket=bucket, task_ids=LOAD)
    assert (third["stage_events"]["objects_read"], third["stage_events"]["rows_staged"]) == (1, 25)
    assert wh.scalar("SELECT COUNT(*) FROM staging_events") == 25  # replaced, not added to
    assert third["load_songplays"]["inserted"] == 1


def equal_at_once_and_one_after_the_other(bucket: str, new_warehouse, hours: list[tuple]) -> list[dict]:
    """Loads ``hours`` one after the other, then all at once (4 threads, each its own connection) into another
    warehouse; asserts the tables are equal and returns the concurrent runs' results."""
    tables = ("staging_events", "songplays", "users", "time")
    sequential = new_warehouse("events_sequential")
    for interval in hours:
        run_tasks(load_dag(), *interval, bucket=bucket, task_ids=LOAD)
    expected = sequential.snapshot(tables)
    assert len(expected["songplays"]) == len(hours)  # one play per hour

    concurrent = new_warehouse("events_concurrent")
    dags = [load_dag() for _ in hours]  # parsing is not thread-safe; running is
    with concurrent.as_redshift_connection(), ThreadPoolExecutor(4) as pool:
        runs = [(dag, interval) for dag, interval in zip(dags, hours, strict=True)]
        results = list(pool.map(lambda r: run_tasks(r[0], *r[1], bucket=bucket, task_ids=LOAD), runs))
        assert concurrent.snapshot(tables) == expected
    return results


def test_hours_of_one_day_at_the_same_time_give_the_tables_of_one_after_the_other(bucket, new_warehouse):
    results = equal_at_once_and_one_after_the_other(bucket, new_warehouse, [hour(h) for h in range(6)])
    assert sum(r["stage_events"]["objects_read"] for r in results) == 1  # one hour staged it; the rest waited


def test_hours_either_side_of_midnight_at_the_same_time_give_the_tables_of_one_after_the_other(bucket, new_warehouse):
    """Two day objects, each staged by one of the hours that read it, the day's rows kept apart by the other."""
    next_day = [event(100 + i, ts=1542326400000 + i * 3_600_000 + 17) for i in range(24)]  # one play per hour of 11-16
    put(bucket, KEY.replace("2018-11-15", "2018-11-16"), next_day)
    hours = [(utc(2018, 11, 15, 22), utc(2018, 11, 15, 23)), (utc(2018, 11, 15, 23), utc(2018, 11, 16, 0))]
    hours += [(utc(2018, 11, 16, 0), utc(2018, 11, 16, 1)), (utc(2018, 11, 16, 1), utc(2018, 11, 16, 2))]
    results = equal_at_once_and_one_after_the_other(bucket, new_warehouse, hours)
    assert sum(r["stage_events"]["objects_read"] for r in results) == 2
