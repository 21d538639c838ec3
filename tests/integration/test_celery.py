"""Distributed: the same DAG runs to success under CeleryExecutor, a local Redis broker and a separate worker."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.conftest import AIRFLOW_TEST_PORTS, REDIS_TEST_PORT, TEST_STATE, scratch_airflow
from tests.integration.test_airflow_e2e import plays_per_hour, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.airflow_server]

PORT, REDIS_PORT = AIRFLOW_TEST_PORTS["celery"], REDIS_TEST_PORT


@pytest.fixture(scope="module")
def redis():
    """A Redis broker on loopback; one left behind by an interrupted run is stopped first (and by make down)."""
    from tools import stack

    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server is missing: `make test` installs it (apt-get install redis-server)")
    folder = TEST_STATE / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    pidfile = folder / "redis.pid"
    stack.stop_pidfile(pidfile, "a leftover test Redis")
    stack.require_free_port(REDIS_PORT, "the test Redis", "REDIS_PORT in tests/integration/test_celery.py")
    subprocess.run(
        [server, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--daemonize", "yes", "--pidfile", str(pidfile),
         "--dir", str(folder), "--save", "", "--appendonly", "no", "--logfile", str(folder / "redis.log")],
        check=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{REDIS_PORT}/0"
    finally:
        stack.stop_pidfile(pidfile, "the test Redis")


@pytest.fixture(scope="module")
def celery_airflow(local_stack, admin_dsn, generated_bucket, redis):
    from tools import stack
    from tools.airflow_stack import COMPONENTS

    metadata = f"{stack.PG_USER}:{stack.PG_PASSWORD}@{stack.PG_HOST}:{stack.PG_PORT}/airflow_celery"
    with scratch_airflow(
        admin_dsn,
        "celery",
        PORT,
        generated_bucket,
        executor="CeleryExecutor",
        components=(*COMPONENTS, "celery worker"),
        extra_env={
            "AIRFLOW__CELERY__BROKER_URL": redis,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{metadata}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        },
    ) as (af, wh):
        yield af, wh


def test_a_run_succeeds_on_a_separate_celery_worker(celery_airflow, generated_data):
    af, wh = celery_airflow
    af.api("POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "celery_run", "logical_date": "2018-11-15T18:00:00Z"})
    run = wait_for(af, "celery_run")
    assert run["state"] == "success"
    loaded = wh.scalar(
        "SELECT COUNT(*) FROM songplays WHERE start_time >= '2018-11-15 18:00' AND start_time < '2018-11-15 19:00'"
    )
    assert loaded == plays_per_hour(generated_data)["2018-11-15T18"] > 0
    worker_log = (af.home / "logs" / "celery-worker.log").read_text()
    for task in ("stage_events", "load_songplays", "run_quality_checks"):
        assert task in worker_log  # executed by the worker process, not the scheduler
    tis = af.api("GET", "dags/sparkify_etl/dagRuns/celery_run/taskInstances")["task_instances"]
    assert {ti["state"] for ti in tis} == {"success"}
    assert len(tis) == 10
