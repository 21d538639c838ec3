"""The loaders a data engineer would otherwise pick, on the same objects as ours: dlt and sling (S3 JSON lines →
PostgreSQL), each timed to the same typed ``staging_events`` rows.

Each peer lands the objects the way its own docs recommend, in a table of its own: dlt through Arrow tables and its
``parquet`` loader file format (ADBC; ``bench/peer_pipelines/dlt_pipeline.py``), sling's ``jsonlines`` format with
``flatten`` (and ``userId`` declared a string: inferred as an integer, a logged-out ``""`` would become NULL).
The timed run then ends with one ``INSERT … SELECT`` that types the peer's columns into a table like
``staging_events``, with its indexes (``ts`` from epoch milliseconds, the rest cast) — the step a user of that tool
would need too. The rows are checked, not assumed: the typed table must hold the same multiset of rows as
ours staged (count and an order-independent checksum over every column but ``staged_from``).

The peers live in a virtualenv of their own (``.local/bench/peers-venv``, pinned by ``PINS``), installed by the
benchmark on first use — not by ``make install``. The sling PyPI package downloads its binary at run time, which
cannot work offline; ``sling-linux-amd64`` carries it (1.4.11 is the newest release that does).

``bench/stage_bench.py`` runs them beside ours and raw ``COPY`` at every scale of ``make bench``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stage_bench import peak_rss_kib
from tools import paths, postgres_server, s3_server, stack

PINS = ("dlt[postgres,filesystem,s3,parquet]==1.31.0", "adbc-driver-postgresql==1.13.0", "sling-linux-amd64==1.4.11")
VENV = paths.LOCAL / "bench" / "peers-venv"
HERE = Path(__file__).parent / "peer_pipelines"
STAGED = (
    "artist, auth, first_name, gender, item_in_session, last_name, length, level, location, method, page, "
    "registration, session_id, song, status, ts, user_agent, user_id"
)
# Each peer's own column names → staging_events' types (the same casts for both; sling keeps the JSON's names).
TYPED = {
    "dlt": (
        "artist, auth, first_name, gender, item_in_session::int, last_name, length::float8, level, location, method, "
        "page, registration::float8, session_id::bigint, song, status::int, "
        "TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond', user_agent, user_id::text"
    ),
    "sling": (
        'artist, auth, "firstName", gender, "itemInSession"::int, "lastName", length::float8, level, location, '
        'method, page, registration::float8, "sessionId"::bigint, song, status::int, '
        "TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond', \"userAgent\", \"userId\"::text"
    ),
}


def python() -> Path:
    return VENV / "bin" / "python"


def sling_binary() -> Path:
    return next((VENV / "lib").glob("python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64"))


def install() -> None:
    """The peers' virtualenv at ``PINS``, made once (a stamp file records what it holds)."""
    stamp = VENV / "pins.txt"
    if stamp.exists() and stamp.read_text() == "\n".join(PINS):
        return
    print(f"installing the peers into {VENV}: {', '.join(PINS)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "-q", *PINS], check=True)
    stamp.write_text("\n".join(PINS))


@dataclass
class PeerRun:
    seconds: float
    peak_rss_mib: float


def peer_env() -> dict[str, str]:
    """The local S3 server's credentials for the peers (the stack's own, never AWS)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW_CONN_"))}
    return {
        **env,
        "AWS_ACCESS_KEY_ID": s3_server.ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": s3_server.SECRET_ACCESS_KEY,
        "AWS_ENDPOINT_URL": s3_server.ENDPOINT,
        "AWS_DEFAULT_REGION": stack.REGION,
    }


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB, the child's own VmHWM, polled) and stdout of ``cmd``."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], peak_rss_kib(proc.pid))
            except (FileNotFoundError, ProcessLookupError, RuntimeError):
                break
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{(out + err)[-3000:]}")
    return seconds, peak[0] / 1024, out


def run_dlt(bucket: str, prefix: str, dsn: str) -> tuple[float, float]:
    env = {**peer_env(), "DLT_PIPELINES_DIR": str(VENV / "dlt-pipelines"), "RUNTIME__LOG_LEVEL": "WARNING"}
    cmd = [str(python()), str(HERE / "dlt_pipeline.py"), bucket, prefix, _libpq(dsn), "dlt_peer", "events"]
    seconds, polled, out = _timed(cmd, env)
    own = int(out.strip().splitlines()[-1]) / 1024  # the script's own VmHWM at its end
    return seconds, max(polled, own)


def run_sling(bucket: str, prefix: str, dsn: str) -> tuple[float, float]:
    env = {
        **peer_env(),
        "SLING_HOME_DIR": str(VENV / "sling-home"),
        "SLING_DISABLE_TELEMETRY": "true",
        "PEER_PG": _libpq(dsn) + "?sslmode=disable",
        "PEER_S3": (
            f"{{type: s3, bucket: {bucket}, access_key_id: {s3_server.ACCESS_KEY_ID}, "
            f'secret_access_key: {s3_server.SECRET_ACCESS_KEY}, endpoint: "{s3_server.ENDPOINT}", '
            f"region: {stack.REGION}}}"
        ),
    }
    cmd = [
        str(sling_binary()),
        "run",
        "--src-conn",
        "PEER_S3",
        "--src-stream",
        prefix,
        "--src-options",
        "{format: jsonlines, flatten: true}",
        "--columns",
        "{userId: string}",  # inferred as an integer, the logged-out "" would become NULL
        "--tgt-conn",
        "PEER_PG",
        "--tgt-object",
        "sling_peer.events",
        "--mode",
        "full-refresh",
    ]
    seconds, peak, _ = _timed(cmd, env)
    return seconds, peak


PEERS = {"dlt": run_dlt, "sling": run_sling}


def _libpq(dsn: str) -> str:
    return dsn.replace("postgres://", "postgresql://", 1)


def _connect(dsn: str):
    import psycopg

    return psycopg.connect(_libpq(dsn), autocommit=True)


def typed_table(dsn: str, peer: str) -> float:
    """Seconds of typing the peer's table into ``peer_typed`` (shaped like ``staging_events``)."""
    started = time.perf_counter()
    with _connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS peer_typed")
        conn.execute("CREATE TABLE peer_typed (LIKE staging_events INCLUDING INDEXES)")  # ours pays for them too
        schema = f"{peer}_peer"
        conn.execute(
            f"INSERT INTO peer_typed ({STAGED}, staged_from) SELECT {TYPED[peer]}, 'peer' FROM {schema}.events"
        )
    return time.perf_counter() - started


def fingerprint(dsn: str, table: str) -> tuple[int, int]:
    """(rows, an order-independent checksum of every row's typed values): equal multisets of rows, checked."""
    with _connect(dsn) as conn:
        return conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(hashtextextended(({STAGED})::text, 0)), 0) FROM {table}"
        ).fetchone()


def run_once(name: str, bucket: str, dsn: str, want: tuple[int, int]) -> PeerRun:
    """One timed run of peer ``name`` on the bucket's ``log_data/``: its load, then typing; rows checked."""
    postgres_server.psql("CHECKPOINT")  # no dirty pages left from the run before
    load_s, peak = PEERS[name](bucket, "log_data/", dsn)
    type_s = typed_table(dsn, name)
    got = fingerprint(dsn, "peer_typed")
    if got != want:
        raise RuntimeError(f"{name}: {got[0]:,} typed rows with checksum {got[1]}, ours {want[0]:,} / {want[1]}")
    return PeerRun(load_s + type_s, peak)
