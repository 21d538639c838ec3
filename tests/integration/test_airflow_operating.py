"""The DAGs as a production deployment runs them, under the scheduler: a late day file waited for in the triggerer
(no worker held), and hourly and daily runs of the same day at once, their writers one at a time in the one writer
pool. A stack of its own (``make airflow``'s code path), with the wait shortened to test time; its two ETL DAGs
unpaused.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import time

import pytest

from tests.conftest import AIRFLOW_OPERATING_PORT, ROOT, run_tasks, scratch_airflow, utc
from tests.integration.test_airflow_e2e import plays_per_hour, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

INPUT_WAIT = 40  # seconds an hour waits for its day file here (SPARKIFY_INPUT_WAIT)


@pytest.fixture(scope="module")
def airflow(local_stack, admin_dsn, generated_bucket):
    waits = {"SPARKIFY_INPUT_WAIT": f"{INPUT_WAIT}s", "SPARKIFY_INPUT_POKE": "3s"}
    dag_ids = ("sparkify_etl", "sparkify_etl_daily")
    with scratch_airflow(
        admin_dsn, "operating", AIRFLOW_OPERATING_PORT, generated_bucket, dag_ids=dag_ids, extra_env=waits
    ) as (af, wh):
        yield af, wh


def task_instance(af, dag_id: str, run_id: str, task_id: str) -> dict:
    return af.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")


def test_an_hour_waits_for_its_late_file_in_the_triggerer_and_loads_when_it_lands(airflow, generated_data):
    """Two hours of a day whose log file is not there yet: each waits deferred — in the triggerer, no worker slot
    taken. The file lands for one: that hour loads. The other's never does: it fails after SPARKIFY_INPUT_WAIT
    naming the object and how long it waited."""
    from tools.seed import s3_client

    af, wh = airflow
    bucket = af.extra_env["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"]
    late_key = "log_data/2018/12/2018-12-01-events.json"  # a day no other test reads
    never = "2018-12-02T05:00:00Z"
    af.api("POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "late_never", "logical_date": never})
    plays = plays_per_hour(generated_data)
    busiest = max((h for h in plays if h.startswith("2018-11-16")), key=plays.get)  # 2018-12-01's, once shifted
    hour = f"2018-12-01T{busiest[-2:]}"
    af.api("POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "late_file", "logical_date": f"{hour}:00:00Z"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = [task_instance(af, "sparkify_etl", r, "wait_for_events") for r in ("late_file", "late_never")]
            if all(ti["state"] == "deferred" and ti["triggerer_job"] for ti in waiting):  # picked up by the triggerer
                break
            time.sleep(1)
        assert [ti["state"] for ti in waiting] == ["deferred", "deferred"], waiting
        assert all(ti["trigger"] and ti["triggerer_job"] for ti in waiting)  # held by the triggerer
        default_pool = af.api("GET", "pools/default_pool")
        assert default_pool["running_slots"] == 0, default_pool  # no worker slot spent on waiting
        assert default_pool["deferred_slots"] >= 2
        assert task_instance(af, "sparkify_etl", "late_file", "stage_events")["state"] in (None, "none", "scheduled")

        shifted = [  # 2018-11-16's events as 2018-12-01's: the file that arrives late
            json.dumps({**e, "ts": e["ts"] + 15 * 86_400_000})
            for e in map(
                json.loads, (generated_data / "log_data/2018/11/2018-11-16-events.json").read_text().splitlines()
            )
        ]
        s3_client().put_object(Bucket=bucket, Key=late_key, Body="\n".join(shifted).encode())
        run = wait_for(af, "late_file")
        assert run["state"] == "success"
        loaded = wh.scalar(
            "SELECT COUNT(*) FROM songplays WHERE start_time >= %(h)s AND start_time < %(h)s::timestamp + '1h'",
            {"h": hour.replace("T", " ") + ":00"},
        )
        assert loaded == plays[busiest] > 0

        given_up = wait_for(af, "late_never", timeout=INPUT_WAIT + 120)
        assert given_up["state"] == "failed"
        sensor = task_instance(af, "sparkify_etl", "late_never", "wait_for_events")
        assert (sensor["state"], sensor["try_number"]) == ("failed", 1)  # a sensor's timeout is not retried
        log = json.dumps(af.api("GET", "dags/sparkify_etl/dagRuns/late_never/taskInstances/wait_for_events/logs/1"))
        message = re.search(r"s3://[^ ]+-events.json did not arrive: waited (\d+)h(\d\d)m(\d\d)s", log)
        assert message, log[-3000:]
        assert f"s3://{bucket}/log_data/2018/12/2018-12-02-events.json" in message.group(0)
        waited = int(message.group(1)) * 3600 + int(message.group(2)) * 60 + int(message.group(3))
        assert INPUT_WAIT <= waited < INPUT_WAIT + 60
        assert f"limit 0h00m{INPUT_WAIT:02d}s" in log
    finally:
        s3_client().delete_object(Bucket=bucket, Key=late_key)


def wait_for_runs(af, runs: list[tuple[str, str]], timeout: float = 400) -> dict[tuple[str, str], dict]:
    """(dag_id, run_id) → the run, once every one of them has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = {(d, r): af.api("GET", f"dags/{d}/dagRuns/{r}") for d, r in runs}
        if all(run["state"] in ("success", "failed") for run in got.values()):
            return got
        time.sleep(3)
    raise AssertionError(f"runs not finished in {timeout:.0f} s: {runs}")


def test_hourly_and_daily_runs_of_the_same_day_at_once_write_one_at_a_time_and_equal_a_clean_load(
    airflow, generated_bucket, new_warehouse
):
    """sparkify_etl_daily's 2018-11-14 and two of sparkify_etl's hours of it, triggered together: every writer
    takes the one slot of the writer pool, so no two writers of any run overlap, and the day's rows equal a load
    of the day alone."""
    from sparkify.operating import WRITER_POOL

    af, wh = airflow
    assert af.api("GET", f"pools/{WRITER_POOL}")["slots"] == 1  # set by the stack's start
    runs = [("sparkify_etl_daily", "same_day_daily", "2018-11-14T00:00:00Z")] + [
        ("sparkify_etl", f"same_day_{h}", f"2018-11-14T{h}:00:00Z") for h in ("09", "10")
    ]
    for dag_id, run_id, logical_date in runs:
        af.api("POST", f"dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": logical_date})
    finished = wait_for_runs(af, [(d, r) for d, r, _ in runs])
    assert {run["state"] for run in finished.values()} == {"success"}, finished

    spans = sorted(
        (ti["start_date"], ti["end_date"], d, ti["task_id"], ti["pool"])
        for d, r, _ in runs
        for ti in af.api("GET", f"dags/{d}/dagRuns/{r}/taskInstances")["task_instances"]
        if ti["task_id"] not in ("end", "wait_for_events")  # never on a worker; a sensor is not a writer
    )
    assert {pool for *_, pool in spans} == {WRITER_POOL}
    assert len(spans) == 3 * 10
    for earlier, later in itertools.pairwise(spans):
        assert earlier[1] <= later[0], (earlier, later)  # one writer at a time, across both DAGs

    spec = importlib.util.spec_from_file_location("etl_daily", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    clean = new_warehouse("same_day_clean")
    with clean.as_redshift_connection():
        run_tasks(module.daily_dag, utc(2018, 11, 14), utc(2018, 11, 15), generated_bucket)
    day = "WHERE start_time >= '2018-11-14' AND start_time < '2018-11-15'"
    for table in ("songplays", "time"):
        rows = [sorted(w.query(f'SELECT * FROM "{table}" {day}'), key=repr) for w in (wh, clean)]
        assert rows[0] == rows[1], table
        assert len(rows[1]) > 0
    assert wh.snapshot(("songs", "artists")) == clean.snapshot(("songs", "artists"))
