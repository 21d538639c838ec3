"""Shared fixtures: the local stack, throw-away warehouses and buckets, and an in-process task runner."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools import paths, postgres_server, processes, s3_server, stack

ROOT = Path(__file__).resolve().parent.parent
COURSE_DATA = (ROOT.parent / "shared" / "data" / "sparkify").resolve()

# Every test process talks to the local stack through the same environment `make env` prints.
for _key, _value in stack.env().items():
    os.environ[_key] = _value


# One id per `pytest` invocation, the same in every xdist worker: fixtures shared by the workers key on it.
TEST_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
TEST_STATE = paths.LOCAL / "tests"  # test stacks' homes, locks and shared results (git-ignored, under .local)


# Ports of what the tests start themselves (api-server; the task log server takes the next one), all below the
# ephemeral port range (see tools/stack.py). The suite fails if any of them is still bound when it ends.
AIRFLOW_TEST_PORT = 28180  # test_airflow_e2e.py
REDIS_TEST_PORT = 26379
REHEARSAL_AWS_PORT = 28190  # tests/rehearsal: moto's server with IAM enforcement


def _ports_the_tests_bind() -> list[int]:
    from bench.dag_bench import BENCH_PORT

    return [p + i for p in (AIRFLOW_TEST_PORT, BENCH_PORT) for i in range(2)] + [
        REDIS_TEST_PORT,
        REHEARSAL_AWS_PORT,
    ]


# The files that take minutes, first: with `--dist loadfile --no-loadscope-reorder` (make test) pytest-xdist hands
# files to workers in collection order, so these start first and the many quick files fill the gaps, instead of
# the longest file starting last (xdist's default order is by number of tests).
SLOW_FILES = (
    "test_airflow_e2e.py",  # the longest: one Airflow stack, its tests one after the other
    "test_bench.py",
    "test_airflow_runs.py",
    "test_course_month.py",
    "test_course_hours.py",
    "test_course_users.py",
    "test_day_one_on_aws.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES)))  # stable: the rest keep their order


def pytest_sessionfinish(session, exitstatus) -> None:
    """Nothing the tests started may outlive them, also after a failure half-way (checked once, by the controller)."""
    if hasattr(session.config, "workerinput"):  # an xdist worker; the controller checks when all are done
        return
    left = [
        f"127.0.0.1:{port} held by {processes.port_holders(port)}"
        for port in _ports_the_tests_bind()
        if processes.port_open(port)
    ]
    if left:
        print("\nleft running after the tests:\n  " + "\n  ".join(left))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@contextlib.contextmanager
def shared_lock(name: str) -> Iterator[Path]:
    """An exclusive lock shared by the xdist workers of this machine; yields a folder for what it guards."""
    import fcntl

    folder = TEST_STATE / "shared"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def course_data_or_skip() -> Path:
    if not (COURSE_DATA / "log_data").is_dir():
        pytest.skip(f"course data not present at {COURSE_DATA}")
    return COURSE_DATA


@pytest.fixture(scope="session")
def local_stack() -> None:
    """PostgreSQL + S3 emulator on 127.0.0.1 (started if needed; `make test` starts them first)."""
    postgres_server.up()
    s3_server.up()


@pytest.fixture(scope="session")
def admin_dsn(local_stack) -> str:
    return os.environ["WAREHOUSE_DSN"]


class ScratchWarehouse:
    """A throw-away database on the local PostgreSQL, wired in as the `redshift` connection."""

    def __init__(self, admin_dsn: str, name: str, template: str | None = None):
        """A new empty database, or a copy of ``template`` (a warehouse with no open connections)."""
        import psycopg

        self.name = name
        self.admin_dsn = admin_dsn
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.dsn = admin_dsn.rsplit("/", 1)[0] + "/" + name
        self.conn_uri = "postgres://" + self.dsn.split("://", 1)[1]

    def query(self, sql: str, params: dict | tuple | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: dict | tuple | None = None):
        return self.query(sql, params)[0][0]

    def execute(self, sql: str, params: dict | tuple | None = None) -> None:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            conn.execute(sql, params)

    def snapshot(self, tables=("songplays", "users", "songs", "artists", "time")) -> dict[str, list[tuple]]:
        """Every row of each table, sorted: equal snapshots mean identical tables."""
        return {t: sorted(self.query(f'SELECT * FROM "{t}"'), key=repr) for t in tables}

    @contextlib.contextmanager
    def as_redshift_connection(self) -> Iterator[ScratchWarehouse]:
        """Make this warehouse the DAG's ``redshift`` connection in this process, for the ``with`` block."""
        previous = os.environ.get("AIRFLOW_CONN_REDSHIFT")
        os.environ["AIRFLOW_CONN_REDSHIFT"] = self.conn_uri
        try:
            yield self
        finally:
            if previous is None:
                os.environ.pop("AIRFLOW_CONN_REDSHIFT", None)
            else:
                os.environ["AIRFLOW_CONN_REDSHIFT"] = previous

    def drop(self) -> None:
        # As the superuser: WITH (FORCE) must also end an autovacuum worker that may be in the database, which
        # the owning role is not allowed to signal (seen as InsufficientPrivilege in a teardown).
        postgres_server.psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


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
def scratch_airflow(admin_dsn: str, name: str, port: int, bucket: str, **kwargs):
    """Airflow on the local stack with its own metadata DB, port and warehouse; everything removed after.

    Started by ``AirflowStack.up()``, the code path of ``make airflow``. Its home is ``.local/tests/airflow-<name>``:
    a stack left behind by an interrupted run is stopped here before the next start (and by ``make down``).
    """
    import shutil

    from tools.airflow_stack import AirflowStack

    home = TEST_STATE / f"airflow-{name}"
    wh = ScratchWarehouse(admin_dsn, f"test_{name}_warehouse")
    metadata_db = f"airflow_{name}"
    extra_env = {
        "AIRFLOW_CONN_REDSHIFT": wh.conn_uri,
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": bucket,
        "AIRFLOW_VAR_SPARKIFY_WORK_BUCKET": work_bucket_for(bucket),
        **kwargs.pop("extra_env", {}),
    }
    af = AirflowStack(home=home, port=port, metadata_db=metadata_db, extra_env=extra_env, **kwargs)
    af.down()  # leftovers of an interrupted run, if any
    shutil.rmtree(home, ignore_errors=True)
    postgres_server.psql(f"DROP DATABASE IF EXISTS {metadata_db} WITH (FORCE)")
    try:
        try:
            af.up()
        except SystemExit as exc:  # the CLI's way to fail; an error here, so pytest reports it as one
            raise RuntimeError(f"Airflow did not start: {exc}") from None
        yield af, wh
    finally:
        af.down()
        wh.drop()
        postgres_server.psql(f"DROP DATABASE IF EXISTS {metadata_db} WITH (FORCE)")


@contextlib.contextmanager
def webhook_server() -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP server standing in for Slack's Incoming Webhook: its base URL and the JSON bodies it got."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services", received
    finally:
        server.shutdown()


@pytest.fixture
def slack_webhook() -> Iterator[tuple[str, list[dict]]]:
    with webhook_server() as hook:
        yield hook


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[int, list]]:
    """A real SMTP server on loopback (aiosmtpd): its port and the (recipients, message) pairs it received."""
    import socket
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler.messages
    finally:
        controller.stop()


def alert_connections(smtp_port: int, webhook_url: str) -> dict[str, str]:
    """The alert channels' connections (mail and Slack) pointed at a local SMTP server and webhook."""
    import json

    smtp = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": smtp_port,
        "extra": {
            "to": "data-eng@sparkify.test",
            "from_email": "airflow@sparkify.test",
            "disable_tls": True,
            "disable_ssl": True,
            "timeout": 10,
        },
    }
    slack = {"conn_type": "slackwebhook", "host": webhook_url, "password": "T/B/x"}
    return {"AIRFLOW_CONN_SMTP_ALERTS": json.dumps(smtp), "AIRFLOW_CONN_SLACK_ALERTS": json.dumps(slack)}


def s3_client():
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default").get_conn()


_WORK_BUCKETS: set[str] = set()


def work_bucket_for(bucket: str) -> str:
    """The work bucket (manifests, reports) that goes with a test's source bucket, created on first use."""
    name = f"{bucket}-work"
    if name not in _WORK_BUCKETS:
        make_bucket(name)
        _WORK_BUCKETS.add(name)
    return name


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
    seed(folder, name, work_bucket=f"{name}-work")
    return name


@pytest.fixture(scope="session")
def course_bucket(local_stack) -> str:
    """The course data in the local S3 server: seeded once (about 45 s for 14,927 objects) for every worker and run."""
    folder = course_data_or_skip()
    with shared_lock("course-bucket"):
        return seeded_bucket("course-data", folder)


@pytest.fixture(scope="session")
def generated_data() -> Path:
    """Three days of generated Sparkify data (seed 7), made once per test run for every worker."""
    from tools.datagen import generate

    with shared_lock("generated-data") as folder:
        out = folder / f"generated-{TEST_RUN[:12]}"
        if not (out / "log_json_path.json").exists():
            for old in folder.glob("generated-*"):
                shutil.rmtree(old, ignore_errors=True)
            generate(out, seed=7, n_songs=300, days=3, start=datetime(2018, 11, 14).date())
        return out


@pytest.fixture(scope="session")
def generated_bucket(local_stack, generated_data) -> str:
    """A bucket holding ``generated_data``, seeded once per test run for every worker (tests only read it)."""
    from tools.seed import seed

    name = f"generated-{TEST_RUN[:12]}"
    with shared_lock("generated-bucket"):
        if name not in {b["Name"] for b in s3_client().list_buckets().get("Buckets", [])}:
            seed(generated_data, name, work_bucket=f"{name}-work")
    return name


# ------------------------------------------------------------------------------------------------------------------
# Running the DAG's own tasks in-process, for any interval
# ------------------------------------------------------------------------------------------------------------------
# The tasks of a run up to the checks, in order: what a test runs to load an interval.
LOAD_TASKS = [
    "begin",
    "stage_events",
    "stage_songs",
    "load_songplays",
    "load_users",
    "load_songs",
    "load_artists",
    "load_time",
]


def load_dag(dag_id: str = "sparkify_etl"):
    spec = importlib.util.spec_from_file_location(f"{dag_id}_under_test", ROOT / "dags" / f"{dag_id}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run_tasks(
    dag,
    start: datetime,
    end: datetime,
    bucket: str,
    task_ids: list[str] | None = None,
    params: dict | None = None,
    asset_events: dict | None = None,
    xcom: dict | None = None,
    dag_runs: dict | None = None,
) -> dict:
    """Render and execute the DAG's tasks (in topological order) for the interval [start, end).

    The same operators, SQL and templates as a real run; only the scheduler is left out, so a test can use any
    interval (a whole month) and pick tasks. Returns each task's return value; ``asset_events``, when given,
    receives each task's asset events as ``task_id → [(asset name, extra), ...]``; ``xcom``, when given, keeps
    the tasks' XComs across calls (a task that failed in one call, read by one run in the next); ``dag_runs``
    stands in for Airflow's runs of other DAGs, as a task sees them: ``(dag_id, logical date) → state``.
    """
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    results = {}
    xcom = {} if xcom is None else xcom
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
            "var": {"value": _Vars({"sparkify_s3_bucket": bucket, "sparkify_work_bucket": work_bucket_for(bucket)})},
            "params": {**dag.params.dump(), **(params or {})},
            "task": op,
            "outlet_events": OutletEventAccessors(),
            "dag_run": _RunStub(run_after=end),
            "ti": _TaskInstanceStub(task.task_id, xcom, dag_runs or {}),
        }
        op.render_template_fields(context)
        results[task.task_id] = xcom[(task.task_id, "return_value")] = op.execute(context)
        if asset_events is not None:  # as Airflow records them on success: declared outlets, then through aliases
            asset_events[task.task_id] = [
                (o.name, context["outlet_events"][o].extra) for o in task.outlets if isinstance(o, Asset)
            ] + [
                (e.dest_asset_key.name, e.extra)
                for accessor in context["outlet_events"]._dict.values()
                for e in accessor.asset_alias_events
            ]
    return results


@dataclasses.dataclass
class _RunStub:
    run_after: datetime


@dataclasses.dataclass
class _TaskInstanceStub:
    """XCom between the tasks of a run, as Airflow keeps it: return values and pushed values, by task and key."""

    task_id: str
    xcom: dict
    dag_runs: dict

    def xcom_push(self, key: str, value) -> None:
        self.xcom[(self.task_id, key)] = value

    def xcom_pull(self, task_ids, key: str = "return_value"):
        if isinstance(task_ids, str):
            return self.xcom.get((task_ids, key))
        return [self.xcom.get((t, key)) for t in task_ids]

    def get_dr_count(self, dag_id: str, logical_dates=None, run_ids=None, states=None) -> int:
        return sum(
            1
            for (d, date), state in self.dag_runs.items()
            if d == dag_id and (logical_dates is None or date in logical_dates) and (states is None or state in states)
        )


class _Vars:
    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, key: str, default=None):
        return self.values.get(key, default)
