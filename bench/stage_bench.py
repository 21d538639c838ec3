"""Staging benchmark: StageToRedshiftOperator on the embedded default vs the limit and vs the peers.

Measured side by side, on the same objects in the local S3 server and the same PostgreSQL table:

1. staging the month's event files (N× the course volume) with our operator, vs
   * the limit: PostgreSQL ``COPY … FROM STDIN (FORMAT csv)`` of the same rows, already flattened in a local CSV;
   * the loaders a data engineer would otherwise pick, dlt and sling (``bench/peers.py``), to the same typed rows;
   * the amazon provider's ``S3ToSqlOperator`` (download, parse, ``insert_rows``) on the same objects, once;
2. peak RSS of a process staging one big events object;
3. stage_songs in an hour with no new song files, in a process of its own: time, CPU and objects read.

Called by ``python -m bench`` (see ``bench/__main__.py``); nothing here asserts.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from tools import postgres_server, s3_server, stack  # noqa: E402


def use_local_stack() -> None:
    """This process (and its children) on the local stack's Airflow settings and connections."""
    for key, value in stack.env().items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # the operators' own logs stay quiet here


MONTH = (datetime(2018, 11, 1, tzinfo=UTC), datetime(2018, 12, 1, tzinfo=UTC))


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    cpu = models[0] if models else "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg = postgres_server.psql("SHOW server_version")
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, PostgreSQL {pg}, S3 server: {s3_server.version()} serve s3 "
        "(in-memory)"
    )


def scratch_db(name: str) -> str:
    """A new, empty warehouse database with the Sparkify tables; this process's ``redshift`` connection."""
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    postgres_server.psql(f"CREATE DATABASE {name} OWNER {postgres_server.USER}")
    dsn = f"postgres://{postgres_server.USER}:{postgres_server.PASSWORD}@{postgres_server.HOST}:{postgres_server.PORT}/{name}"
    os.environ["AIRFLOW_CONN_REDSHIFT"] = dsn
    from sparkify import engines
    from sparkify.schema import create_tables

    create_tables(engines.resolve("redshift"), _Quiet())
    return dsn


class _Quiet:
    def info(self, *a, **k):
        pass


def s3():
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default").get_conn()


def truncate(dsn: str, table: str) -> None:
    import psycopg

    with psycopg.connect(dsn.replace("postgres://", "postgresql://")) as conn:
        conn.execute(f"TRUNCATE {table}")


def execute(op, context: dict):
    """An operator's ``execute``, called directly: the bench times the operator alone, not a task runner.

    Airflow logs a warning for every such call unless its ``ExecutorSafeguard`` is in test mode.
    """
    from airflow.sdk.bases.operator import ExecutorSafeguard

    ExecutorSafeguard.test_mode = True
    return op.execute(context)


# ----------------------------------------------------------------------------------------------------------------
def run_ours(bucket: str, key: str, contract: str | None = "log_data") -> tuple[float, int]:
    """stage_events as the DAG configures it: held to the log_data contract (``contract=None``: unmeasured)."""
    from sparkify.operators import StageToRedshiftOperator

    op = StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        s3_bucket=bucket,
        s3_key=key,
        json_paths="log_json_path.json",
        contract=contract,
    )
    started = time.perf_counter()
    result = execute(op, {"run_id": "bench", "data_interval_start": MONTH[0], "data_interval_end": MONTH[1]})
    return time.perf_counter() - started, result["rows_staged"]


def run_raw_copy(dsn: str, csv_path: Path, columns: list[str]) -> tuple[float, int]:
    import psycopg
    from psycopg import sql

    statement = sql.SQL("COPY staging_events ({}) FROM STDIN (FORMAT csv)").format(
        sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    started = time.perf_counter()
    with psycopg.connect(dsn.replace("postgres://", "postgresql://")) as conn, conn.cursor() as cur:
        with cur.copy(statement) as copy, open(csv_path, "rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        rows = cur.rowcount
    return time.perf_counter() - started, rows


def run_s3_to_sql(bucket: str, keys: list[str], columns: list[str]) -> tuple[float, int]:
    """The amazon provider's S3ToSqlOperator: one task per object, its own parser, DbApiHook.insert_rows."""
    from datetime import timedelta

    import orjson
    from airflow.providers.amazon.aws.transfers.s3_to_sql import S3ToSqlOperator

    from sparkify.ingest.records import EPOCH
    from tools.datagen import LOG_FIELDS as fields

    def parse(path: str):
        with open(path, "rb") as f:
            for line in f:
                if line.strip():
                    e = orjson.loads(line)
                    row = [e.get(k) for k in fields]
                    row[15] = EPOCH + timedelta(milliseconds=row[15])
                    yield (*row, "peer")

    started = time.perf_counter()
    for key in keys:
        peer = S3ToSqlOperator(
            task_id="peer",
            s3_key=key,
            s3_bucket=bucket,
            table="staging_events",
            parser=parse,
            column_list=[*columns, "staged_from"],
            sql_conn_id="redshift",
            commit_every=10_000,
        )
        execute(peer, {})
    seconds = time.perf_counter() - started
    return seconds, 0


def flatten_to_csv(folder: Path, out: Path) -> tuple[list[str], int]:
    """The same rows as staging produces, written once to a local CSV (not timed)."""
    from sparkify.ingest.jsonpaths import parse_jsonpaths_file
    from sparkify.ingest.records import Column, JsonRecordReader
    from tools.datagen import LOG_FIELDS

    cols = [re.sub(r"([A-Z])", r"_\1", field).lower() for field in LOG_FIELDS]  # firstName → first_name
    kinds = {
        "item_in_session": "integer",
        "length": "double precision",
        "registration": "double precision",
        "session_id": "bigint",
        "status": "integer",
        "ts": "timestamp without time zone",
    }
    reader = JsonRecordReader(
        [Column(c, kinds.get(c, "character varying")) for c in cols],
        parse_jsonpaths_file((folder / "log_json_path.json").read_bytes()),
    )
    n = 0
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        for path in sorted((folder / "log_data").rglob("*.json")):
            for line in path.read_bytes().splitlines():
                if line.strip():
                    w.writerow([*reader.parse_line(line), "csv"])
                    n += 1
    return [*cols, "staged_from"], n


def peak_rss_kib(pid: int | str = "self") -> int:
    """A process's peak RSS (VmHWM), this one's by default. Not getrusage's ru_maxrss: on Linux a child inherits
    its parent's."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def peak_rss_staging(bucket: str, key: str) -> float:
    """MiB: peak RSS of a fresh process that stages one object (the operator alone, in its own process)."""
    return int(in_fresh_process(f"b.run_ours({bucket!r}, {key!r}); print(b.peak_rss_kib())")) / 1024


def baseline_rss() -> float:
    return int(in_fresh_process("import sparkify.operators; print(b.peak_rss_kib())")) / 1024


def in_fresh_process(code: str) -> str:
    """The last line ``code`` prints, run in a new interpreter with this module imported as ``b``.

    What is measured there sees a process like a task's, not this one after everything run before it.
    """
    code = f"import sys; sys.argv=['x']; import bench.stage_bench as b; b.use_local_stack(); {code}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=os.environ)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return out.stdout.strip().splitlines()[-1]


def write_big_object(bucket: str, megabytes: int, seed: int) -> tuple[str, int, int]:
    """One day's events object of about ``megabytes`` MB, generated and uploaded with a multipart upload."""
    import random

    import orjson

    from tools.datagen import log_event, make_users

    rng = random.Random(seed)
    users = make_users(rng, 500)
    key = "big/log_data/2018/11/2018-11-15-events.json"
    client = s3()
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)
    parts, part, part_size, size, events = [], [], 0, 0, 0
    target = megabytes * 1_000_000
    start = int(datetime(2018, 11, 15, tzinfo=UTC).timestamp() * 1000)
    while size < target:
        e = log_event(
            rng.choice(users),
            start + rng.randint(0, 86_399_999),
            rng.randint(1, 10**6),
            rng.randint(0, 99),
            "NextSong",
            artist='Artist \\ "quoted"',
            song="Sång\ttitle",
            length=rng.uniform(60, 600),
        )
        line = orjson.dumps(e) + b"\n"
        part.append(line)
        part_size += len(line)
        size += len(line)
        events += 1
        if part_size >= 64 * 2**20 or size >= target:
            body = b"".join(part)
            r = client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=len(parts) + 1, Body=body
            )
            parts.append({"ETag": r["ETag"], "PartNumber": len(parts) + 1})
            part, part_size = [], 0
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    return key, size, events


@dataclass
class Idle:
    """stage_songs in hours with no new song files, each measured alone (median over the runs)."""

    walls: list[float]
    cpus: list[float]  # the operator's own work: CPU seconds of its process (all threads) during each run
    read: int  # objects read by all the idle runs together
    listed: int

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)


def stage_songs_idle(bucket: str, runs: int = 3) -> Idle:
    """In a fresh process, as in a task: stage the catalogue under ``song_data/`` once, then ``runs`` idle hours."""
    return Idle(**json.loads(in_fresh_process(f"import json; print(json.dumps(b.idle_runs({bucket!r}, {runs})))")))


def idle_runs(bucket: str, runs: int) -> dict:
    from sparkify.operators import StageToRedshiftOperator

    op = StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        s3_bucket=bucket,
        s3_key="song_data/",
        json_layout="document",
        incremental=True,
        key_columns=["song_id"],
    )
    context = {"run_id": "bench", "data_interval_start": MONTH[0], "data_interval_end": MONTH[1]}
    execute(op, context)  # the first run stages the catalogue
    walls, cpus, read, listed = [], [], 0, 0
    for _ in range(runs):  # hours with no new song files
        started, cpu = time.perf_counter(), time.process_time()
        result = execute(op, context)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        read, listed = read + result["objects_read"], result["objects_listed"]
    return {"walls": walls, "cpus": cpus, "read": read, "listed": listed}


# ----------------------------------------------------------------------------------------------------------------
@dataclass
class StagingTimes:
    """Seconds to stage the same month of events every way (ours, raw COPY and the peers repeated, alternating)."""

    rows: int
    ours: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    unmeasured: list[float] = field(default_factory=list)  # ours without the source contract: its cost
    s3_to_sql: float | None = None  # the amazon provider's S3ToSqlOperator, one run
    peers: dict[str, list[float]] = field(default_factory=dict)  # dlt, sling: seconds of each run
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  # ours (a fresh process) and each peer

    def rps(self, seconds: float | list[float]) -> float:
        return self.rows / (statistics.median(seconds) if isinstance(seconds, list) else seconds)

    def fastest_peer(self) -> str | None:
        return min(self.peers, key=lambda name: statistics.median(self.peers[name])) if self.peers else None


def list_keys(bucket: str, prefix: str) -> list[str]:
    pages = s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(k["Key"] for page in pages for k in page.get("Contents", []))


def empty_bucket(bucket: str) -> None:
    """Delete a bench bucket's objects and the bucket: the emulator keeps them in memory."""
    client = s3()
    keys = list_keys(bucket, "")
    for i in range(0, len(keys), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i : i + 1000]]})
    client.delete_bucket(Bucket=bucket)


def measure_staging(
    bucket: str, dsn: str, folder: Path, work: Path, repeat: int, s3_to_sql: bool = True, peers: bool = True
) -> StagingTimes:
    """Ours, raw COPY, ours without the contract and each peer, alternating ``repeat`` times; rows checked."""
    from bench import peers as peer_tools

    if peers:
        peer_tools.install()
    columns, rows = flatten_to_csv(folder, work / "events.csv")
    times = StagingTimes(rows=rows)
    want = None
    for _ in range(repeat):
        postgres_server.psql("CHECKPOINT")  # each timed load starts with no dirty pages left from the one before
        seconds, staged = run_ours(bucket, "log_data/")
        if staged != rows:
            raise RuntimeError(f"staged {staged:,} rows, the CSV has {rows:,}")
        times.ours.append(seconds)
        if peers and want is None:
            want = peer_tools.fingerprint(dsn, "staging_events")  # what every peer's typed rows must equal
        truncate(dsn, "staging_events")
        postgres_server.psql("CHECKPOINT")
        seconds, copied = run_raw_copy(dsn, work / "events.csv", columns)
        if copied != rows:
            raise RuntimeError(f"raw COPY loaded {copied:,} rows, the CSV has {rows:,}")
        times.raw.append(seconds)
        truncate(dsn, "staging_events")
        postgres_server.psql("CHECKPOINT")
        seconds, staged = run_ours(bucket, "log_data/", contract=None)
        if staged != rows:
            raise RuntimeError(f"staged {staged:,} rows without the contract, the CSV has {rows:,}")
        times.unmeasured.append(seconds)
        truncate(dsn, "staging_events")
        for name in peer_tools.PEERS if peers else ():
            run = peer_tools.run_once(name, bucket, dsn, want)
            times.peers.setdefault(name, []).append(run.seconds)
            times.peak_rss_mib[name] = max(times.peak_rss_mib.get(name, 0.0), run.peak_rss_mib)
    if peers:
        times.peak_rss_mib = {"ours": peak_rss_staging(bucket, "log_data/"), **times.peak_rss_mib}
        truncate(dsn, "staging_events")
    if s3_to_sql:
        postgres_server.psql("CHECKPOINT")
        times.s3_to_sql, _ = run_s3_to_sql(bucket, list_keys(bucket, "log_data/"), columns[:-1])
        truncate(dsn, "staging_events")
    (work / "events.csv").unlink()
    return times
