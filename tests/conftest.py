"""Shared fixtures: the local stack, throw-away warehouses and buckets, and an in-process task runner."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools import stack

ROOT = Path(__file__).resolve().parent.parent
COURSE_DATA = (ROOT.parent / "shared" / "data" / "sparkify").resolve()

# Every test process talks to the local stack through the same environment `make env` prints.
for _key, _value in stack.env().items():
    os.environ[_key] = _value


def course_data_or_skip() -> Path:
    if not (COURSE_DATA / "log_data").is_dir():
        pytest.skip(f"course data not present at {COURSE_DATA}")
    return COURSE_DATA


@pytest.fixture(scope="session")
def local_stack() -> None:
    """PostgreSQL + S3 emulator on 127.0.0.1 (started if needed; `make test` starts them first)."""
    stack.pg_up()
    stack.s3_up()


@pytest.fixture(scope="session")
def admin_dsn(local_stack) -> str:
    return os.environ["WAREHOUSE_DSN"]


class ScratchWarehouse:
    """A throw-away database on the local PostgreSQL, wired in as the `redshift` connection."""

    def __init__(self, admin_dsn: str, name: str):
        import psycopg

        self.name = name
        self.admin_dsn = admin_dsn
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.dsn = admin_dsn.rsplit("/", 1)[0] + "/" + name
        self.conn_uri = "postgres://" + self.dsn.split("://", 1)[1]

    def query(self, sql: str, params: dict | tuple | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: dict | tuple | None = None):
        return self.query(sql, params)[0][0]

    def snapshot(self, tables=("songplays", "users", "songs", "artists", "time")) -> dict[str, list[tuple]]:
        """Every row of each table, sorted: equal snapshots mean identical tables."""
        return {t: sorted(self.query(f'SELECT * FROM "{t}"'), key=repr) for t in tables}

    def drop(self) -> None:
        from tools import stack

        # As the superuser: WITH (FORCE) must also end an autovacuum worker that may be in the database, which
        # the owning role is not allowed to signal (seen as InsufficientPrivilege in a teardown).
        stack._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def new_warehouse(admin_dsn, monkeypatch) -> Iterator:
    """A factory of fresh warehouses; the first one made is also the `redshift` connection."""
    made: list[ScratchWarehouse] = []

    def make(label: str = "t") -> ScratchWarehouse:
        wh = ScratchWarehouse(admin_dsn, f"test_{label}_{uuid.uuid4().hex[:8]}")
        if not made:
            monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", wh.conn_uri)
        made.append(wh)
        return wh

    yield make
    for wh in made:
        wh.drop()


@contextlib.contextmanager
def scratch_airflow(admin_dsn: str, name: str, port: int, bucket: str, home: Path, **kwargs):
    """Airflow on the local stack with its own metadata DB, port and warehouse; everything removed after."""
    from tools import stack
    from tools.airflow_stack import AirflowStack

    wh = ScratchWarehouse(admin_dsn, f"test_{name}_warehouse")
    metadata_db = f"airflow_{name}"
    stack._psql(f"DROP DATABASE IF EXISTS {metadata_db} WITH (FORCE)")
    extra_env = {"AIRFLOW_CONN_REDSHIFT": wh.conn_uri, "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": bucket,
                 **kwargs.pop("extra_env", {})}  # fmt: skip
    af = AirflowStack(home=home, port=port, metadata_db=metadata_db, extra_env=extra_env, **kwargs)
    try:
        af.up()
        yield af, wh
    finally:
        af.down()
        wh.drop()
        stack._psql(f"DROP DATABASE IF EXISTS {metadata_db} WITH (FORCE)")


def s3_client():
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default").get_conn()


def make_bucket(name: str | None = None) -> str:
    name = name or f"test-{uuid.uuid4().hex[:12]}"
    client = s3_client()
    if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return name


def seeded_bucket(name: str, folder: Path) -> str:
    """A bucket holding ``folder`` (course layout); reused across sessions when it already holds it all."""
    from tools.seed import data_files, seed

    client = s3_client()
    expected = len(data_files(folder))
    if name in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        count = sum(p.get("KeyCount", 0) for p in client.get_paginator("list_objects_v2").paginate(Bucket=name))
        if count == expected:
            return name
    seed(folder, name)
    return name


@pytest.fixture(scope="session")
def course_bucket(local_stack) -> str:
    return seeded_bucket("course-data", course_data_or_skip())


@pytest.fixture(scope="session")
def generated_data(tmp_path_factory) -> Path:
    from tools.datagen import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out, seed=7, n_songs=300, days=3, start=datetime(2018, 11, 14).date())
    return out


@pytest.fixture(scope="session")
def generated_bucket(local_stack, generated_data) -> str:
    from tools.seed import seed

    name = f"generated-{uuid.uuid4().hex[:8]}"
    seed(generated_data, name)
    return name


# ------------------------------------------------------------------------------------------------------------------
# Running the DAG's own tasks in-process, for any interval
# ------------------------------------------------------------------------------------------------------------------
def load_dag():
    spec = importlib.util.spec_from_file_location("sparkify_etl_under_test", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run_tasks(
    dag, start: datetime, end: datetime, bucket: str, task_ids: list[str] | None = None, params: dict | None = None
) -> dict:
    """Render and execute the DAG's tasks (in topological order) for the interval [start, end).

    The same operators, SQL and templates as a real run; only the scheduler is left out, so a test can use any
    interval (a whole month) and pick tasks. Returns each task's return value.
    """
    results = {}
    for task in dag.topological_sort():
        if task_ids is not None and task.task_id not in task_ids:
            continue
        op = copy.copy(task)
        context = {
            "data_interval_start": start,
            "data_interval_end": end,
            "logical_date": start,
            "ds": start.strftime("%Y-%m-%d"),
            "run_id": f"test__{start.isoformat()}",
            "var": {"value": _Vars({"sparkify_s3_bucket": bucket})},
            "params": {**dag.params.dump(), **(params or {})},
            "task": op,
        }
        op.render_template_fields(context)
        results[task.task_id] = op.execute(context)
    return results


class _Vars:
    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, key: str, default=None):
        return self.values.get(key, default)
