"""The local PostgreSQL server: the embedded default's warehouse and every local Airflow's metadata databases.

One cluster under ``.local/pg`` (or a temp dir keyed by the checkout, where the postgres user cannot reach the
checkout), listening on 127.0.0.1 only; started and stopped with ``pg_ctl``. As root, PostgreSQL runs as the
``postgres`` user (it refuses to run as root).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.paths import LOCAL, ROOT
from tools.processes import pid_alive, port_open, read_from, read_pid, require_free_port, wait_gone, wait_port_free

HOST = "127.0.0.1"
PORT = int(os.environ.get("SPARKIFY_PG_PORT", "25432"))  # below the ephemeral port range (tools.processes)
USER = "sparkify"
# Local, loopback-only development credentials. Not a word that appears in logs: Airflow masks a connection's
# password wherever it appears in task logs, and "sparkify" blanked every DAG and table name.
PASSWORD = "local-dev-only"
WAREHOUSE_DB = "warehouse"
AIRFLOW_DB = "airflow"


def url(database: str, scheme: str = "postgresql") -> str:
    """The URL of ``database`` on this server as the project's user, e.g. ``postgres://…`` for an Airflow
    connection, ``postgresql+psycopg2://…`` for SQLAlchemy, ``postgresql://…`` for psycopg."""
    return f"{scheme}://{USER}:{PASSWORD}@{HOST}:{PORT}/{database}"


def _as_root() -> bool:
    return os.geteuid() == 0


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    which = shutil.which(name)
    if which:
        return which
    sys.exit(f"PostgreSQL's {name} was not found (looked in /usr/lib/postgresql/*/bin and PATH)")


def _as_pg(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if _as_root() else cmd


def _postgres_can_reach(path: Path) -> bool:
    if not _as_root():
        return True
    return subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)]).returncode == 0


def data_dir() -> Path:
    """The cluster's data directory: ``.local/pg`` unless the postgres user cannot reach the project."""
    LOCAL.mkdir(exist_ok=True)
    if _postgres_can_reach(LOCAL):
        return LOCAL / "pg"
    # e.g. a clone inside a mode-700 temp dir: keep the data outside, keyed by the project path.
    digest = hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"sparkify-pg-{digest}"


def psql(sql: str, db: str = "postgres") -> str:
    """Run one statement as the superuser over the cluster's socket; return its unaligned output."""
    cmd = [pg_bin("psql"), "-h", str(data_dir()), "-p", str(PORT), "-U", "postgres", "-d", db]
    cmd += ["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]
    return subprocess.run(_as_pg(cmd), check=True, capture_output=True, text=True).stdout.strip()


def database_exists(name: str) -> bool:
    return psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"


def running() -> bool:
    pid = read_pid(data_dir() / "postmaster.pid")
    return bool(pid and pid_alive(pid) and port_open(PORT))


def up() -> None:
    """Start the cluster (made on first use) if it is not running here, with the project's role and warehouse."""
    data = data_dir()
    if not (data / "PG_VERSION").exists():
        _initdb(data)
    pid = read_pid(data / "postmaster.pid")
    if pid and pid_alive(pid) and port_open(PORT):
        print(f"postgres already running (pid {pid}) on {HOST}:{PORT}")
    else:
        if pid and pid_alive(pid):  # running on another port (an earlier default or setting): restart it
            down()
        require_free_port(PORT, "postgres", "SPARKIFY_PG_PORT")
        opts = f"-c listen_addresses={HOST} -p {PORT} -k {data} -c fsync=off -c max_connections=200"
        log = data / "server.log"  # inside the data dir so the postgres user can write it
        log_start = log.stat().st_size if log.exists() else 0
        started = subprocess.run(
            _as_pg([pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]),
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            sys.exit(start_failure(data, started.stderr + read_from(log, log_start)))
        print(f"postgres started on {HOST}:{PORT} (data {data})")
    _ensure_role_and_warehouse()


def start_failure(data: Path, output: str) -> str:
    """Why the cluster did not start, from pg_ctl's output and the server's log, and what to do about it."""
    lines = [line for line in output.strip().splitlines() if line.strip()][-4:]
    fix = (
        f"the data directory was made by another PostgreSQL version: delete it (rm -rf {data}: the local warehouse "
        "and Airflow's metadata DB are made again by the next make) or run make clean"
        if "incompatible with server" in output
        else f"if {data} is left over from an interrupted or older checkout, make clean starts afresh"
    )
    return f"postgres did not start ({data}):\n  " + "\n  ".join(lines) + f"\nFix: {fix}."


def _initdb(data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    if _as_root():
        shutil.chown(data, "postgres", "postgres")
    data.chmod(0o700)
    cmd = [pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]
    subprocess.run(_as_pg([*cmd, "-E", "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)


def _password_works() -> bool:
    import psycopg

    try:
        psycopg.connect(url("postgres"), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if "password authentication failed" in str(exc):
            return False
        raise
    return True


def _ensure_role_and_warehouse() -> None:
    if psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{USER}'") != "1":
        psql(f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
    elif not _password_works():  # a cluster made with an earlier password
        psql(f"ALTER ROLE {USER} PASSWORD '{PASSWORD}'")
    if not database_exists(WAREHOUSE_DB):
        psql(f"CREATE DATABASE {WAREHOUSE_DB} OWNER {USER}")  # Airflow's DB: tools.airflow_stack makes it


def down() -> None:
    data = data_dir()
    pid = read_pid(data / "postmaster.pid")
    if pid and pid_alive(pid):
        stop = [pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_pg(stop), check=False, capture_output=True)
        wait_gone(pid, "postgres")
        wait_port_free(PORT, "postgres")
        print("postgres stopped")
    else:
        print("postgres not running")
