"""Airflow 3 on the local stack: api-server, task log server, scheduler, dag-processor and triggerer as background
processes.

    python -m tools.airflow_stack up [--seed-live 42]             # the local stack (make airflow)
    python -m tools.airflow_stack up --aws-env .local/aws/x.env    # AWS (make airflow AWS_ENV=…)
    python -m tools.airflow_stack down    # stop by PID: INT the group, wait, TERM, KILL stragglers; port freed

A start has one target (``tools.targets``): the local stack's connections, or the AWS settings file's secrets
backend — never a mix. Each prints the connections and variables it uses, secrets masked. The local start
unpauses sparkify_etl; an AWS start leaves every DAG paused (unpausing starts real loads).

Each component runs in its own process group with a PID file under ``.local/airflow/run``; LocalExecutor's
task processes belong to the scheduler's group, so stopping the group leaves nothing behind. The login is
``admin`` with a password generated on first start (kept in ``.local/airflow/passwords.json``, mode 0600, as is
the JWT secret).

Everything listens on 127.0.0.1 only. Airflow's own task log servers (started inside the scheduler, triggerer and
Celery workers) bind every interface and have no setting for it, so those components run with
``--skip-serve-logs`` and the stack starts Airflow's log-server app itself, on loopback: one server for task and
trigger logs (they share the log folder), found by the api-server through ``tools.loopback.hostname``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools import postgres_server, s3_server, stack, targets
from tools.paths import LOCAL, ROOT, VENV_BIN, plugins_on_path
from tools.processes import (
    pid_alive,
    port_holders,
    read_from,
    read_pid,
    require_free_port,
    wait_groups_gone,
    wait_port_free,
    write_private,
)
from tools.progress import waiting

COMPONENTS = ("api-server", "log server", "scheduler", "dag-processor", "triggerer")
DAG_ID = "sparkify_etl"


@dataclass
class AirflowStack:
    """One Airflow installation: its home, port, metadata database and extra environment."""

    home: Path = field(default_factory=lambda: LOCAL / "airflow")
    # The api-server's port; the task log server takes the next one, so two checkouts with different ports run
    # side by side. Below the ephemeral port range: see tools.processes.
    port: int = int(os.environ.get("SPARKIFY_AIRFLOW_PORT", "28080"))
    metadata_db: str = postgres_server.AIRFLOW_DB
    executor: str = "LocalExecutor"
    extra_env: dict[str, str] = field(default_factory=dict)
    components: tuple[str, ...] = COMPONENTS
    dag_ids: tuple[str, ...] = (DAG_ID,)  # waited for and unpaused by up()
    aws_settings: dict[str, str] | None = None  # an AWS start: make aws-up's file (tools.targets); None: local
    _token: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ports(self) -> dict[str, int]:
        """Every port this installation listens on, by what listens there."""
        return {"api-server": self.port, "log server": self.port + 1}

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    def pidfile(self, component: str) -> Path:
        return self.run_dir / f"{component.replace(' ', '-')}.pid"

    def password(self) -> str:
        path = self.home / "passwords.json"
        if not path.exists():
            write_private(path, json.dumps({"admin": secrets.token_urlsafe(12)}))
        return json.loads(path.read_text())["admin"]

    @classmethod
    def for_aws(cls, settings_file: Path, **kwargs) -> AirflowStack:
        """An installation of its own (home, metadata DB) for the AWS target of ``settings_file``."""
        settings = targets.read_settings_file(settings_file)
        name = "".join(c if c.isalnum() else "_" for c in settings_file.stem)
        kwargs.setdefault("home", LOCAL / "aws" / f"{settings_file.stem}-airflow")
        kwargs.setdefault("metadata_db", f"airflow_aws_{name}")
        return cls(dag_ids=(), aws_settings=settings, **kwargs)

    def env(self) -> dict[str, str]:
        if self.aws_settings is None:  # local: the stack's connections, nothing the shell exported for a target
            e = {**targets.without_targets(os.environ, keep_aws_credentials=False), **stack.env()}
        else:  # AWS: the file's settings and the shell's AWS credential chain, no local connection
            e = {**targets.environ_for_aws(self.aws_settings), **airflow_env()}
        secret_file = self.home / "jwt_secret"
        if not secret_file.exists():
            write_private(secret_file, secrets.token_urlsafe(32))
        self.password()
        e.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url(self.metadata_db),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports["log server"]),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["log server"]),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tools.loopback.hostname",  # where the log server listens
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API_AUTH__JWT_SECRET": secret_file.read_text(),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            }
        )
        e.update(self.extra_env)
        return e

    # --------------------------------------------------------------------------------------------------------------
    def running(self, component: str) -> bool:
        pid = read_pid(self.pidfile(component))
        return bool(pid and pid_alive(pid))

    def up(self) -> None:
        to_start = [name for name in self.components if not self.running(name)]
        for name in to_start:  # fail now, naming the port's holder, rather than after a start-up timeout
            for what in _LISTENS.get(self.pidfile(name).stem, ()):
                require_free_port(self.ports[what], f"the {what}", "SPARKIFY_AIRFLOW_PORT")
        postgres_server.up()  # Airflow's metadata DB, for both targets
        if self.aws_settings is None:
            s3_server.up()
        with waiting("starting Airflow") as status:
            status("migrating its metadata DB")
            self.ensure_metadata_db()
            self._start(to_start, status)

    def _start(self, to_start: list[str], status: Callable[[str], None]) -> None:
        env = self.env()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        api_log = logs / "api-server.log"  # appended to: only what this start writes is read for errors
        api_log_start = api_log.stat().st_size if api_log.exists() else 0
        started = time.time()  # a DAG counts as parsed by this start once Airflow parsed it after this
        for name in to_start:
            cmd = self.command(name)
            with open(logs / f"{name.replace(' ', '-')}.log", "ab") as out:
                proc = subprocess.Popen(
                    cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
                )
            self.pidfile(name).write_text(f"{proc.pid}\n")
        if "api-server" in self.components:
            status(f"started {', '.join(to_start) or 'nothing new'}; waiting for the api-server")
            self._wait_healthy(api_log, api_log_start)
            self.set_writer_pool()  # before any DAG is unpaused: a task in a pool that does not exist never runs
            for dag_id in self.dag_ids:
                status(f"waiting for {dag_id} to be parsed")
                self._wait_for_dag_and_unpause(dag_id, started if "dag-processor" in to_start else 0)

    def listening(self) -> list[tuple[str, str, int]]:
        """(component, address, port) of every socket this installation's processes listen on."""
        import psutil

        found = []
        for pidfile in sorted(self.run_dir.glob("*.pid")):
            pgid = read_pid(pidfile)
            if not (pgid and pid_alive(pgid)):
                continue
            for proc in psutil.process_iter():
                try:
                    if os.getpgid(proc.pid) == pgid:
                        found += [
                            (pidfile.stem, c.laddr.ip, c.laddr.port)
                            for c in proc.net_connections("inet")
                            if c.status == psutil.CONN_LISTEN
                        ]
                except (psutil.Error, ProcessLookupError):
                    continue  # ended meanwhile
        return found

    def command(self, component: str) -> list[str]:
        """How a component is started; every server it runs listens on 127.0.0.1."""
        if component == "log server":  # Airflow's own log-server app, which `airflow scheduler` would bind to 0.0.0.0
            return [
                str(VENV_BIN / "python"),
                "-m",
                "uvicorn",
                "--factory",
                "airflow.utils.serve_logs.log_server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports["log server"]),
                "--no-access-log",
            ]
        cmd = [str(VENV_BIN / "airflow"), *component.split()]
        if component == "api-server":
            cmd += ["--port", str(self.port), "--host", "127.0.0.1"]
        elif component in ("scheduler", "triggerer", "celery worker"):
            cmd.append("--skip-serve-logs")  # the "log server" component serves their logs, on loopback
        return cmd

    def ensure_metadata_db(self) -> None:
        """The metadata DB, migrated: a new one is a copy of the migrated template (:func:`migrated_template`), an
        existing one is migrated when this Airflow version has not migrated it yet (a marker in the home)."""
        marker = self.home / f".migrated-{self.metadata_db}"
        version = airflow_version()
        self.home.mkdir(parents=True, exist_ok=True)
        if not postgres_server.database_exists(self.metadata_db):
            template = migrated_template(self.env())
            postgres_server.psql(f"CREATE DATABASE {self.metadata_db} OWNER {postgres_server.USER} TEMPLATE {template}")
            marker.write_text(version)
        elif not (marker.exists() and marker.read_text() == version):
            migrate(self.env())
            marker.write_text(version)

    def _wait_healthy(self, log: Path, log_start: int, timeout: float = 120) -> None:
        """Wait for the api-server to answer; fail at once if it exits or, by its log, cannot bind its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2) as r,
            ):
                if r.status == 200:
                    return
            pid = read_pid(self.pidfile("api-server"))
            tail = read_from(log, log_start)[-20_000:]
            if "address already in use" in tail.lower():
                self.down()
                sys.exit(
                    f"the api-server could not bind 127.0.0.1:{self.port} (address already in use): held by "
                    f"{port_holders(self.port)}; choose another port with SPARKIFY_AIRFLOW_PORT=… "
                    f"(log: {log})"
                )
            if not (pid and pid_alive(pid)):
                self.down()
                sys.exit(f"the api-server exited while starting (log: {log}):\n{tail[-2000:]}")
            time.sleep(0.5)
        sys.exit(f"the api-server did not answer on {self.url} within {timeout:.0f} s (see {self.home / 'logs'})")

    def token(self) -> str:
        """A bearer token for admin, fetched once and reused until the API refuses it (tokens last hours)."""
        if self._token is None:
            body = json.dumps({"username": "admin", "password": self.password()}).encode()
            req = urllib.request.Request(
                f"{self.url}/auth/token", data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            self._token = json.loads(_urlopen_patiently(req))["access_token"]
        return self._token

    def api(self, method: str, path: str, payload: dict | None = None) -> dict:
        """Call the REST API (``/api/v2/…``) as admin.

        A loaded machine (a backfill, the test suite's other workers) can keep the api-server from answering for
        a while: reads are retried on timeouts and refused connections; writes are sent once.
        """
        for attempt in (1, 2):
            req = urllib.request.Request(
                f"{self.url}/api/v2/{path.lstrip('/')}",
                data=None if payload is None else json.dumps(payload).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token()}"},
                method=method,
            )
            try:
                return json.loads(_urlopen_patiently(req, retries=3 if method == "GET" else 0) or b"{}")
            except urllib.error.HTTPError as exc:
                if exc.code != 401 or attempt == 2:
                    raise
                self._token = None  # expired: log in again, once
        raise AssertionError("unreachable")

    def set_writer_pool(self) -> None:
        """Create the warehouse writers' pool (``sparkify.operating``), or resize it to SPARKIFY_WRITER_POOL_SLOTS."""
        plugins_on_path()
        from sparkify import operating

        name = operating.WRITER_POOL
        body = {
            "name": name,
            "slots": operating.writer_pool_slots(self.env()),
            "description": operating.WRITER_POOL_DESCRIPTION,
            "include_deferred": False,
        }
        try:
            self.api("PATCH", f"pools/{name}", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            self.api("POST", "pools", body)

    def _wait_for_dag_and_unpause(self, dag_id: str, parsed_after: float, timeout: float = 180) -> None:
        """Unpause ``dag_id`` once parsed after ``parsed_after`` (epoch s): a file that fails to import stops the
        start at once, even when an older version of the DAG is still in the metadata DB."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                dag = self.api("GET", f"dags/{dag_id}")
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
                dag = None
            if dag is None or _epoch(dag.get("last_parsed_time")) < parsed_after:
                self._exit_on_import_error(dag_id)
                time.sleep(1)
                continue
            if dag.get("is_paused"):
                self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})
            return
        sys.exit(f"{dag_id} was not parsed within {timeout:.0f} s (see {self.home / 'logs' / 'dag-processor.log'})")

    def _exit_on_import_error(self, dag_id: str) -> None:
        """Stop the start at once when the DAG's file failed to import, with the error's last lines."""
        errors = self.api("GET", "importErrors").get("import_errors", [])
        module = "sparkify_etl" if dag_id.startswith("sparkify_etl") else dag_id  # the daily DAG shares its file
        for error in errors:
            if Path(error["filename"]).stem == module:
                trace = error.get("stack_trace", "").strip().splitlines()
                sys.exit(
                    f"dags/{error['filename']} failed to import, so {dag_id} is not what the file says (Airflow is "
                    "up; the UI shows the error too):\n  "
                    + "\n  ".join(trace[-3:])
                    + "\nFix the file (parsed again within seconds of a change) or the setting it names "
                    "(then: make down && make airflow)."
                )

    # --------------------------------------------------------------------------------------------------------------
    def down(self, only: tuple[str, ...] | None = None) -> None:
        """Stop every component with a PID file in this home (whatever ``components`` says), or ``only`` these."""
        pidfiles = sorted(self.run_dir.glob("*.pid"))
        if only is not None:
            pidfiles = [p for p in pidfiles if p in {self.pidfile(name) for name in only}]
        pids = {}
        for pidfile in pidfiles:
            pid = read_pid(pidfile)
            if pid and pid_alive(pid):
                pids[pidfile.stem] = pid
        for pid in pids.values():  # INT the groups: components shut down their children
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGINT)
        wait_groups_gone(pids.values(), 20)
        for pid in pids.values():  # TERM what is left
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        wait_groups_gone(pids.values(), 10)
        for pid in pids.values():  # KILL stragglers, the whole group (executor workers included)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        for pidfile in pidfiles:
            pidfile.unlink(missing_ok=True)
        if pids:
            stopped = {what for p in pidfiles for what in _LISTENS.get(p.stem, ())}
            for what, port in self.ports.items():
                if only is None or what in stopped:
                    wait_port_free(port, f"the {what}")
            print(f"airflow stopped ({', '.join(pids)})")


def airflow_env() -> dict[str, str]:
    """How Airflow's processes run here (home, folders, executor, metadata DB) — the same for both targets."""
    return {
        "AIRFLOW_HOME": str(LOCAL / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url(postgres_server.AIRFLOW_DB),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(LOCAL / "airflow" / "logs"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), str(ROOT / "plugins")) if p),
    }


def metadata_db_url(database: str) -> str:
    """An Airflow metadata database on the local PostgreSQL (both targets keep Airflow's own state here)."""
    return postgres_server.url(database, "postgresql+psycopg2")


def airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def migrate(env: dict[str, str]) -> None:
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)


def migrated_template(env: dict[str, str]) -> str:
    """A metadata DB migrated by this Airflow version, made once and copied (``CREATE DATABASE … TEMPLATE``) for
    every new installation here: ``airflow db migrate`` of an empty DB costs ~15 s of CPU, a copy a fraction of a
    second. Named for the version; it gets its name only once migrated, so a half-made one is never copied."""
    import fcntl
    import re

    name = "airflow_migrated_" + re.sub(r"\W", "_", airflow_version())
    LOCAL.mkdir(exist_ok=True)
    with open(LOCAL / "airflow-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not postgres_server.database_exists(name):
            partial = f"{name}_partial"
            postgres_server.psql(f"DROP DATABASE IF EXISTS {partial} WITH (FORCE)")
            postgres_server.psql(f"CREATE DATABASE {partial} OWNER {postgres_server.USER}")
            migrate({**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url(partial)})
            postgres_server.psql(f"ALTER DATABASE {partial} RENAME TO {name}")
    return name


# What each component listens on (see AirflowStack.ports).
_LISTENS = {"api-server": ("api-server",), "log-server": ("log server",)}


def _epoch(timestamp: str | None) -> float:
    """An API timestamp (ISO 8601) in epoch seconds; 0 for none."""
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() if timestamp else 0.0


def _urlopen_patiently(req: urllib.request.Request, retries: int = 3, timeout: float = 30) -> bytes:
    """The response body; timeouts and refused or reset connections are retried ``retries`` times, 2 s apart."""
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read()
        except urllib.error.HTTPError:
            raise
        except (TimeoutError, ConnectionError, urllib.error.URLError) as exc:
            if attempt == retries:
                raise
            print(f"{req.get_method()} {req.full_url}: {exc}; retrying", file=sys.stderr)
            time.sleep(2)
    raise AssertionError("unreachable")


def up_local(seed_live: int | None) -> AirflowStack:
    """The local start: refuse AWS settings in the shell, seed the live days, start, say what it uses."""
    targets.refuse_aws_settings_for_local(os.environ)
    stack.servers_up()
    if seed_live is not None:
        from datetime import UTC, datetime

        from tools.seed import seed_live as add_live_days

        add_live_days(stack.BUCKET, datetime.now(UTC).date(), seed_live)
    print(targets.report("local stack — connections and variables:", *targets.local_lookup(stack.local_target())))
    af = AirflowStack()
    af.up()
    print(f"Airflow is up: {af.url}  (login: admin / {af.password()})")
    print(f"  {DAG_ID} is unpaused; logs in {af.home / 'logs'}; stop with: make down")
    return af


def up_aws(settings_file: Path) -> AirflowStack:
    """The AWS start: the file's secrets backend and nothing local; the connections are read back and shown."""
    af = AirflowStack.for_aws(settings_file)
    conns, variables = targets.aws_lookup(af.aws_settings)
    title = f"{af.aws_settings['SPARKIFY_TARGET']} ({settings_file}; from Secrets Manager) — connections and variables:"
    print(targets.report(title, conns, variables))
    targets.require_complete(str(settings_file), conns, variables)
    af.up()
    print(f"Airflow is up against AWS: {af.url}  (login: admin / {af.password()})")
    print("  every DAG is paused: unpause sparkify_etl (live hours) or backfill sparkify_etl_daily")
    print(f"  logs in {af.home / 'logs'}; stop with: make down")
    return af


def main(argv: list[str]) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m tools.airflow_stack", description=__doc__.split("\n\n")[0])
    p.add_argument("cmd", choices=["up", "down", "status"], nargs="?", default="status")
    p.add_argument("--aws-env", type=Path, help="start against AWS with this settings file (make aws-up writes it)")
    p.add_argument("--seed-live", type=int, metavar="SEED", help="local: add generated logs for the live days first")
    a = p.parse_args(argv[1:])
    cmd = a.cmd
    af = AirflowStack()
    if cmd == "up":
        try:
            up_aws(a.aws_env) if a.aws_env else up_local(a.seed_live)
        except targets.SettingsError as exc:
            sys.exit(f"refused: {exc}")
    elif cmd == "down":
        af.down()
        leftovers = [
            *(LOCAL / "tests").glob("airflow-*"),
            *(LOCAL / "aws").glob("*-airflow"),  # AWS starts (make airflow AWS_ENV=…)
            LOCAL / "bench" / "airflow",
        ]
        for home in sorted(leftovers):  # stacks of tests or benchmarks that an interrupted run left behind
            AirflowStack(home=home).down()
    elif cmd == "status":
        for name in af.components:
            print(f"{name}: {f'up (pid {read_pid(af.pidfile(name))})' if af.running(name) else 'down'}")


if __name__ == "__main__":
    main(sys.argv)
