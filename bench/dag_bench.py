"""DAG-run benchmark: an hour of sparkify_etl against Airflow's own floor, ``sparkify_floor``.

``sparkify_floor`` (``bench/floor_dag.py``) has sparkify_etl's ten tasks, dependencies, timetable and
``max_active_runs``, with tasks that do nothing. Both are measured on the same machine, the same metadata
database and the same warehouse, in two ways:

* ``airflow dags test <dag> <hour>``: the command's wall time, interpreter start and DAG parse included, for
  a few busy hours (after one untimed warm-up hour each, which also stages the song catalogue once);
* a 24-hour backfill under the scheduler (``airflow backfill create``, LocalExecutor, ``--max-active-runs 4``)
  on a fresh Airflow (its own metadata DB, ``use_job_schedule`` off so no scheduled run competes): from the
  command to the last run's end as Airflow records it; ETL and floor alternate, each on its own day, three times
  (one pair is too noisy: the same code measured 1.76 and 1.35), and the ratio is of the medians;
* the course month through ``sparkify_etl_daily`` (30 daily runs, backfilled under the scheduler, 2 at a time)
  against ``sparkify_floor_daily``'s 30 runs.

Called by ``python -m bench`` (see ``bench/__main__.py``); nothing here asserts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tools import paths, postgres_server, stack
from tools.airflow_stack import AirflowStack

ROOT = Path(__file__).resolve().parent.parent
ETL, FLOOR = "sparkify_etl", "sparkify_floor"
ETL_DAILY, FLOOR_DAILY = "sparkify_etl_daily", "sparkify_floor_daily"
MONTH_START = datetime(2018, 11, 1, tzinfo=UTC)
AIRFLOW = str(paths.VENV_BIN / "airflow")
DAY = datetime(2018, 11, 15, tzinfo=UTC)
WARM_UP_HOUR = DAY + timedelta(hours=15)
BENCH_PORT = int(os.environ.get("SPARKIFY_BENCH_AIRFLOW_PORT", "28380"))


@dataclass
class DagTimes:
    """Seconds per DAG for one way of running it (medians over the measured hours, or one backfill)."""

    etl: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    stage_songs: list[float] = field(default_factory=list)  # the ETL's idle stage_songs, as its log reports
    publish: list[float] = field(default_factory=list)  # the ETL's publish task (the gate), as its log reports

    @property
    def ratio(self) -> float:
        return statistics.median(self.etl) / statistics.median(self.floor)


def dags_folder() -> Path:
    """A DAGs folder holding exactly the two DAGs (links to dags/sparkify_etl.py and bench/floor_dag.py)."""
    folder = paths.LOCAL / "bench" / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    targets = {ETL: ROOT / "dags" / "sparkify_etl.py", FLOOR: ROOT / "bench" / "floor_dag.py"}
    for dag_id, target in targets.items():
        link = folder / f"{dag_id}.py"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return folder


def run_env(conn_uri: str, bucket: str) -> dict[str, str]:
    return {
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # as deployed: task logs at INFO
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW_CONN_REDSHIFT": conn_uri,
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": bucket,
    }


PUBLISH_LOG = re.compile(r"\) published in ([\d.]+) s")  # the publish task's own time: the gate's cost
STAGE_SONGS_LOG = re.compile(
    r"staged [\d,]+ rows into staging_songs from [\d,]+ of [\d,]+ listed objects .*? in ([\d.]+) s"
)


def dags_test(dag_id: str, hour: datetime, extra_env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds and output of ``airflow dags test dag_id hour``; an error if the run does not succeed."""
    env = {**os.environ, **stack.env(), **extra_env}
    path = Path(extra_env["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    started = time.perf_counter()
    out = subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, hour.isoformat(), "-f", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - started
    text = out.stdout + out.stderr
    if out.returncode != 0 or "state=success" not in text:
        raise RuntimeError(f"airflow dags test {dag_id} {hour:%Y-%m-%dT%H} did not succeed:\n{text[-3000:]}")
    return seconds, text


def measure_dags_test(extra_env: dict[str, str], hours: int, warm_up: bool = True) -> DagTimes:
    AirflowStack().ensure_metadata_db()
    for dag_id in (ETL, FLOOR) if warm_up else ():  # untimed: tables created, song catalogue staged once
        dags_test(dag_id, WARM_UP_HOUR, extra_env)
    times = DagTimes()
    for h in range(hours):
        hour = WARM_UP_HOUR + timedelta(hours=1 + h)
        seconds, text = dags_test(ETL, hour, extra_env)
        times.etl.append(seconds)
        times.stage_songs += [float(m) for m in STAGE_SONGS_LOG.findall(text)]
        times.publish += [float(m) for m in PUBLISH_LOG.findall(text)]
        times.floor.append(dags_test(FLOOR, hour, extra_env)[0])
    return times


def _backfill(af, dag_id: str, first: datetime, runs: int, step: timedelta, max_active: int = 4) -> float:
    """Wall seconds of ``airflow backfill create`` for ``runs`` intervals from ``first``, to the last run's end."""
    started = datetime.now(UTC)
    last = first + step * (runs - 1)
    out = subprocess.run(
        [
            AIRFLOW,
            "backfill",
            "create",
            "--dag-id",
            dag_id,
            "--from-date",
            first.isoformat(),
            "--to-date",
            last.isoformat(),
            "--max-active-runs",
            str(max_active),
        ],
        env=af.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"airflow backfill create {dag_id} failed:\n{(out.stdout + out.stderr)[-3000:]}")
    deadline = time.monotonic() + 3600
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = [
            r
            for r in af.api("GET", f"dags/{dag_id}/dagRuns?run_type=backfill&limit=1000")["dag_runs"]
            if first <= datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")) <= last
        ]
        if len(found) == runs and all(r["state"] in ("success", "failed") for r in found):
            break
        time.sleep(1)
    else:
        raise RuntimeError(f"the {dag_id} backfill did not finish within an hour: {[r['state'] for r in found]}")
    failed = [r["logical_date"] for r in found if r["state"] != "success"]
    if failed:
        raise RuntimeError(f"the {dag_id} backfill has failed runs: {failed} (see {af.home / 'logs'})")
    ended = max(datetime.fromisoformat(r["end_date"].replace("Z", "+00:00")) for r in found)
    return (ended - started).total_seconds()


@contextlib.contextmanager
def fresh_airflow(extra_env: dict[str, str], dag_ids: tuple[str, ...]) -> Iterator:
    """A fresh Airflow (own home, metadata DB and port), scheduled runs off; stopped and dropped after."""
    metadata_db = "airflow_bench"
    home = paths.LOCAL / "bench" / "airflow"  # fixed: a stack an interrupted bench left behind is stopped here
    AirflowStack(home=home).down()
    shutil.rmtree(home, ignore_errors=True)
    postgres_server.psql(f"DROP DATABASE IF EXISTS {metadata_db} WITH (FORCE)")
    af = AirflowStack(
        home=home,
        port=BENCH_PORT,
        metadata_db=metadata_db,
        extra_env={**extra_env, "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"},
        dag_ids=dag_ids,
    )
    try:
        af.up()
        yield af
    finally:
        af.down()
        postgres_server.psql(f"DROP DATABASE IF EXISTS {metadata_db} WITH (FORCE)")


def measure_backfill(extra_env: dict[str, str], hours: int, repeats: int = 3) -> DagTimes:
    """``repeats`` backfills of ``hours`` hours per DAG, alternating ETL and floor, each pair on its own day."""
    times = DagTimes()
    with fresh_airflow(extra_env, (ETL, FLOOR)) as af:
        for i in range(repeats):
            day = DAY + timedelta(days=i)
            times.etl.append(_backfill(af, ETL, day, hours, timedelta(hours=1)))
            times.floor.append(_backfill(af, FLOOR, day, hours, timedelta(hours=1)))
    return times


def measure_daily_month(extra_env: dict[str, str]) -> DagTimes:
    """The course month through sparkify_etl_daily (30 runs, 2 at a time) and sparkify_floor_daily's 30 runs."""
    with fresh_airflow(extra_env, (ETL_DAILY, FLOOR_DAILY)) as af:
        etl = _backfill(af, ETL_DAILY, MONTH_START, 30, timedelta(days=1), max_active=2)
        floor = _backfill(af, FLOOR_DAILY, MONTH_START, 30, timedelta(days=1), max_active=2)
    return DagTimes(etl=[etl], floor=[floor])
