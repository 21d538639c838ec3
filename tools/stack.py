"""The embedded default's local stack: PostgreSQL (warehouse + Airflow metadata DB) and an S3 server (rclone).

Usage: python -m tools.stack up|servers|down|status|env   (servers: up without migrating Airflow's metadata DB)

Everything lives under ``.local/`` in the project (git-ignored). Both servers listen on 127.0.0.1 only,
are started in the background and stopped by PID; ``up`` and ``down`` are idempotent. When invoked as
root, PostgreSQL runs as the ``postgres`` user (it refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
VENV_BIN = Path(sys.executable).parent

PG_HOST = "127.0.0.1"
# Default ports lie below Linux's ephemeral port range (net.ipv4.ip_local_port_range, 32768–60999 here): a port
# inside it can be held for a moment by any outgoing connection of the stack's many processes, and a server
# started just then cannot bind it (seen: `make airflow` failing 2 starts in 3 on 58080, "address already in use").
PG_PORT = int(os.environ.get("SPARKIFY_PG_PORT", "25432"))
S3_PORT = int(os.environ.get("SPARKIFY_S3_PORT", "25433"))
PG_USER = "sparkify"
# Local, loopback-only development credentials. Not a word that appears in logs: Airflow masks a connection's
# password wherever it appears in task logs, and "sparkify" blanked every DAG and table name.
PG_PASSWORD = "local-dev-only"
# The S3 server checks requests' SigV4 signatures against this pair; AWS-shaped ([A-Za-z0-9/+=]), as a Redshift
# COPY's credentials must be.
S3_ACCESS_KEY_ID = "SPARKIFYLOCAL"
S3_SECRET_ACCESS_KEY = "localdevonly"
WAREHOUSE_DB = "warehouse"
AIRFLOW_DB = "airflow"
BUCKET = os.environ.get("SPARKIFY_BUCKET", "sparkify")  # the source: the data, only read by the DAGs
WORK_BUCKET = os.environ.get("SPARKIFY_WORK_BUCKET", "sparkify-work")  # what the DAGs write (manifests, reports)
REGION = "us-west-2"


def _as_root() -> bool:
    return os.geteuid() == 0


def _pg_bin(name: str) -> str:
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


def pg_data_dir() -> Path:
    """The cluster's data directory: ``.local/pg`` unless the postgres user cannot reach the project."""
    LOCAL.mkdir(exist_ok=True)
    if _postgres_can_reach(LOCAL):
        return LOCAL / "pg"
    # e.g. a clone inside a mode-700 temp dir: keep the data outside, keyed by the project path.
    digest = hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"sparkify-pg-{digest}"


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.1)
    sys.exit(f"{what} did not open 127.0.0.1:{port} within {timeout:.0f} s (see {LOCAL / 'logs'})")


def ephemeral_port_range() -> tuple[int, int]:
    """Linux's range for outgoing connections' local ports (other systems: the IANA range)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535


def port_holders(port: int) -> str:
    """Who holds a local TCP port, e.g. ``pid 812 (rclone) listening``, for error messages."""
    import psutil

    def name(pid: int | None) -> str:
        try:
            return f"pid {pid} ({psutil.Process(pid).name()})" if pid else "a process of another user"
        except psutil.Error:
            return f"pid {pid}"

    try:
        held = [c for c in psutil.net_connections(kind="tcp") if c.laddr and c.laddr.port == port]
    except psutil.Error as exc:
        return f"unknown ({exc})"
    listeners = [f"{name(c.pid)} listening" for c in held if c.status == psutil.CONN_LISTEN]
    if listeners:  # the other sockets on the port are its accepted connections
        return "; ".join(dict.fromkeys(listeners))
    outgoing = [f"{name(c.pid)}, {c.status.lower()} to {c.raddr.ip}:{c.raddr.port}" for c in held if c.raddr]
    if outgoing:
        return "an outgoing connection using it as its local port: " + "; ".join(dict.fromkeys(outgoing[:3]))
    return "no process found (it may be free again in a moment)"


def require_free_port(port: int, what: str, setting: str, host: str = "127.0.0.1") -> None:
    """Exit at once, naming the port and its holder, if ``what`` could not bind ``host:port`` now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT does not block them
        try:
            s.bind((host, port))
        except OSError as exc:
            sys.exit(
                f"{what} cannot listen on {host}:{port} ({exc.strerror}): held by {port_holders(port)}. "
                f"Stop that process or choose another port with {setting}=…"
            )
    low, high = ephemeral_port_range()
    if low <= port <= high:
        print(
            f"warning: port {port} ({what}) lies in the ephemeral port range {low}–{high}: an outgoing "
            f"connection may take it at any moment; prefer a port below {low} ({setting})",
            file=sys.stderr,
        )


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so an exited child does not look alive as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def psql(sql: str, db: str = "postgres") -> str:
    data = pg_data_dir()
    out = subprocess.run(
        _as_pg(
            [
                _pg_bin("psql"),
                "-h",
                str(data),
                "-p",
                str(PG_PORT),
                "-U",
                "postgres",
                "-d",
                db,
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ]
        ),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to a file only its owner can read — mode 0600 from its creation, whatever the umask, so a
    secret is never readable by others, not even for a moment. An existing file is rewritten and made 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        f.write(text)
    return path


def pg_up() -> None:
    data = pg_data_dir()
    logs = LOCAL / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if _as_root():
            shutil.chown(data, "postgres", "postgres")
        data.chmod(0o700)
        subprocess.run(
            _as_pg(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
    log = data / "server.log"  # inside the data dir so the postgres user can write it
    pid = read_pid(data / "postmaster.pid")
    if pid and pid_alive(pid) and port_open(PG_PORT):
        print(f"postgres already running (pid {pid}) on {PG_HOST}:{PG_PORT}")
    else:
        if pid and pid_alive(pid):  # running on another port (an earlier default or setting): restart it
            pg_down()
        require_free_port(PG_PORT, "postgres", "SPARKIFY_PG_PORT")
        opts = f"-c listen_addresses={PG_HOST} -p {PG_PORT} -k {data} -c fsync=off -c max_connections=200"
        subprocess.run(
            _as_pg([_pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]),
            check=True,
            capture_output=True,
        )
        print(f"postgres started on {PG_HOST}:{PG_PORT} (data {data})")
    _ensure_roles_and_dbs()


def _password_works() -> bool:
    import psycopg

    try:
        psycopg.connect(f"postgresql://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{PG_PORT}/postgres", connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if "password authentication failed" in str(exc):
            return False
        raise
    return True


def _ensure_roles_and_dbs() -> None:
    if psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{PG_USER}'") != "1":
        psql(f"CREATE ROLE {PG_USER} LOGIN CREATEDB PASSWORD '{PG_PASSWORD}'")
    elif not _password_works():  # a cluster made with an earlier password (checked: workers start at once)
        psql(f"ALTER ROLE {PG_USER} PASSWORD '{PG_PASSWORD}'")
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{WAREHOUSE_DB}'") != "1":
        psql(f"CREATE DATABASE {WAREHOUSE_DB} OWNER {PG_USER}")  # Airflow's DB: tools.airflow_stack makes it


def pg_down() -> None:
    data = pg_data_dir()
    pid = read_pid(data / "postmaster.pid")
    if pid and pid_alive(pid):
        subprocess.run(
            _as_pg([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), check=False, capture_output=True
        )
        _wait_gone(pid, "postgres")
        wait_port_free(PG_PORT, "postgres")
        print("postgres stopped")
    else:
        print("postgres not running")


def wait_port_free(port: int, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if port_open(port):
        print(f"warning: 127.0.0.1:{port} is still bound after stopping {what}", file=sys.stderr)


def _wait_gone(pid: int, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        print(f"{what} (pid {pid}) did not stop in {timeout:.0f} s: killed")


def stop_pidfile(pidfile: Path, what: str) -> None:
    """Stop the process a PID file names (TERM, then KILL after 20 s) and remove the file; quiet if not running."""
    pid = read_pid(pidfile)
    if pid and pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, what)
        print(f"{what} stopped")
    pidfile.unlink(missing_ok=True)


S3_PIDFILE = LOCAL / "s3.pid"
TEST_REDIS_PIDFILE = LOCAL / "tests" / "redis" / "redis.pid"  # the Celery test's broker (tests/integration)


def s3_command() -> list[str]:
    """The S3 server: ``rclone serve s3`` over rclone's in-memory backend (objects live in its RAM, as on an
    emulator; ``make down`` drops them), on 127.0.0.1 only. Each bucket is a top-level directory; ETags are the
    objects' MD5s, kept with them. Its key pair comes from the environment (``RCLONE_AUTH_KEY``), not argv."""
    return [
        str(VENV_BIN / "rclone"),
        "serve",
        "s3",
        ":memory:",
        "--addr",
        f"127.0.0.1:{S3_PORT}",
        "--log-level",
        "NOTICE",
    ]


def s3_server_version() -> str:
    """e.g. ``rclone v1.75.2``."""
    out = subprocess.run([str(VENV_BIN / "rclone"), "version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0].strip()


def _runs_s3_command(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).cmdline() == s3_command()
    except psutil.Error:
        return False


def s3_up() -> None:
    pid = read_pid(S3_PIDFILE)
    if pid and pid_alive(pid) and port_open(S3_PORT) and _runs_s3_command(pid):
        print(f"S3 server already running (pid {pid}) on 127.0.0.1:{S3_PORT}")
        return
    if pid and pid_alive(pid):  # another port or another server (an earlier checkout's moto): restart it
        s3_down()
    require_free_port(S3_PORT, "the S3 server", "SPARKIFY_S3_PORT")
    logs = LOCAL / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "s3.log", "ab") as out:
        proc = subprocess.Popen(
            s3_command(),
            # RCLONE_AUTH_KEY is CSV (the flag repeats): one quoted "id,secret" pair. No config file is read.
            env={**os.environ, "RCLONE_AUTH_KEY": f'"{S3_ACCESS_KEY_ID},{S3_SECRET_ACCESS_KEY}"', "RCLONE_CONFIG": ""},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    S3_PIDFILE.write_text(f"{proc.pid}\n")
    _wait_port(S3_PORT, "the S3 server")
    print(f"S3 server (rclone serve s3) started on 127.0.0.1:{S3_PORT} (pid {proc.pid})")


def s3_down() -> None:
    pid = read_pid(S3_PIDFILE)
    if pid and pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        _wait_gone(pid, "S3 server")
        wait_port_free(S3_PORT, "the S3 server")
        print("S3 server stopped")
    else:
        print("S3 server not running")
    S3_PIDFILE.unlink(missing_ok=True)


def airflow_env() -> dict[str, str]:
    """How Airflow's processes run here (home, folders, executor, metadata DB) — the same for both targets."""
    return {
        "AIRFLOW_HOME": str(LOCAL / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url(AIRFLOW_DB),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(LOCAL / "airflow" / "logs"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), str(ROOT / "plugins")) if p),
    }


def metadata_db_url(database: str) -> str:
    """Airflow's metadata database on the local PostgreSQL (both targets keep Airflow's own state here)."""
    return f"postgresql+psycopg2://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{PG_PORT}/{database}"


def local_target() -> dict[str, str]:
    """The local stack's connections and variables (``SPARKIFY_TARGET=local`` marks them)."""
    import json

    aws = {
        "conn_type": "aws",
        "login": S3_ACCESS_KEY_ID,
        "password": S3_SECRET_ACCESS_KEY,
        "extra": {
            "endpoint_url": f"http://127.0.0.1:{S3_PORT}",
            "region_name": REGION,
            # rclone's S3 server answers a ranged GET with the whole object's stored CRC32, which botocore then
            # finds wrong for the part (s3transfer downloads objects over 8 MB in ranges): validate a response's
            # checksum only when the request asks for one (S3ToSqlOperator and S3Hook.download_file need this).
            "config_kwargs": {"response_checksum_validation": "when_required"},
        },
    }
    return {
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
        "AIRFLOW_CONN_REDSHIFT": f"postgres://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{PG_PORT}/{WAREHOUSE_DB}",
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": BUCKET,
        "AIRFLOW_VAR_SPARKIFY_WORK_BUCKET": WORK_BUCKET,
        "SPARKIFY_BUCKET": BUCKET,
        "SPARKIFY_WORK_BUCKET": WORK_BUCKET,
        "SPARKIFY_TARGET": "local",
        "WAREHOUSE_DSN": f"postgresql://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{PG_PORT}/{WAREHOUSE_DB}",
    }


def env() -> dict[str, str]:
    """Environment for Airflow and psql against the local stack: Airflow's settings and the local target's
    connections and variables, and nothing else."""
    return {**airflow_env(), **local_target()}


def airflow_db_up() -> None:
    """The local Airflow's metadata DB, created and migrated (idempotent; ``tools.airflow_stack`` owns how)."""
    from tools.airflow_stack import AirflowStack

    AirflowStack().ensure_metadata_db()


def airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def main(argv: list[str]) -> None:
    cmd = argv[1] if len(argv) > 1 else "status"
    if cmd in ("up", "servers"):  # servers: PostgreSQL and S3 only (the tests bring their own metadata DBs)
        pg_up()
        s3_up()
        if cmd == "up":
            airflow_db_up()
    elif cmd == "down":
        stop_pidfile(TEST_REDIS_PIDFILE, "the test Redis")  # left behind only by an interrupted test run
        s3_down()
        pg_down()
    elif cmd == "status":
        pid = read_pid(pg_data_dir() / "postmaster.pid")
        print(f"postgres: {'up' if pid and pid_alive(pid) and port_open(PG_PORT) else 'down'} ({PG_PORT})")
        pid = read_pid(S3_PIDFILE)
        print(f"s3: {'up' if pid and pid_alive(pid) and port_open(S3_PORT) else 'down'} ({S3_PORT})")
    elif cmd == "env":
        for key, value in env().items():
            print(f"export {key}={shlex.quote(value)}")
    else:
        sys.exit(f"usage: python -m tools.stack up|servers|down|status|env (got {cmd!r})")


if __name__ == "__main__":
    main(sys.argv)
