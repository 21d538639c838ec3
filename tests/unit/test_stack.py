"""The local stack (tools.stack, tools.airflow_stack): a busy port fails at once and names who holds it; secrets are
private from their creation; every server binds loopback. Nothing is started here: test_airflow_e2e.py checks the
running stack's sockets."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from tools import postgres_server, processes, s3_server
from tools.airflow_stack import COMPONENTS, AirflowStack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_listening_port_names_its_process():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(
            SystemExit,
            match=rf"the api-server cannot listen on 127.0.0.1:{port} .*pid {os.getpid()} "
            r"\(.*\) listening.*SPARKIFY_AIRFLOW_PORT",
        ):
            processes.require_free_port(port, "the api-server", "SPARKIFY_AIRFLOW_PORT")


def test_a_port_taken_by_an_outgoing_connection_says_so():
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client.bind(("127.0.0.1", 0))  # what the kernel does for any outgoing connection, from its ephemeral range
        client.connect(server.getsockname())
        port = client.getsockname()[1]
        with pytest.raises(SystemExit, match=rf"outgoing connection using it as its local port: pid {os.getpid()}"):
            processes.require_free_port(port, "postgres", "SPARKIFY_PG_PORT")


def test_a_free_port_passes_and_the_defaults_lie_below_the_ephemeral_range():
    processes.require_free_port(free_port(), "x", "X")
    if any(k.startswith("SPARKIFY_") and k.endswith("_PORT") for k in os.environ):
        pytest.skip("ports chosen through SPARKIFY_*_PORT")
    low, _ = processes.ephemeral_port_range()
    from tools.airflow_stack import AirflowStack

    assert max(postgres_server.PORT, s3_server.PORT, *AirflowStack().ports.values()) < low


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_private_file_is_0600_from_its_creation_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        path = processes.write_private(tmp_path / "new" / "secret", "s3cr3t")
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert path.read_text() == "s3cr3t"


def test_rewriting_a_world_readable_file_makes_it_private(tmp_path):
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    processes.write_private(path, "new")
    assert mode(path) == 0o600
    assert path.read_text() == "new"


def test_the_airflow_stack_generates_its_login_and_jwt_secret_privately(tmp_path):
    af = AirflowStack(home=tmp_path / "airflow", port=28990)
    env = af.env()
    assert mode(af.home / "passwords.json") == 0o600
    assert mode(af.home / "jwt_secret") == 0o600
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == (af.home / "jwt_secret").read_text()
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 32
    assert len(af.password()) >= 16
    assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "tools.loopback.hostname"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "28991"  # one server for task and trigger logs
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "28991"


def test_every_server_of_the_airflow_stack_binds_loopback():
    """Airflow's scheduler, triggerer and Celery worker would start log servers on every interface (no setting
    changes that): they skip it, and the stack's own log server binds 127.0.0.1."""
    af = AirflowStack(port=28990)
    assert "log server" in COMPONENTS
    log_server = af.command("log server")
    assert log_server[log_server.index("--host") + 1] == "127.0.0.1"
    assert log_server[log_server.index("--port") + 1] == "28991"
    api = af.command("api-server")
    assert api[api.index("--host") + 1] == "127.0.0.1"
    for component in ("scheduler", "triggerer", "celery worker"):
        assert "--skip-serve-logs" in af.command(component)
    assert af.ports == {"api-server": 28990, "log server": 28991}


def test_tasks_report_the_loopback_hostname_through_airflows_own_setting(monkeypatch, tmp_path):
    from airflow.sdk.api.client import get_hostname

    monkeypatch.setenv(
        "AIRFLOW__CORE__HOSTNAME_CALLABLE", AirflowStack(home=tmp_path).env()["AIRFLOW__CORE__HOSTNAME_CALLABLE"]
    )
    assert get_hostname() == "127.0.0.1"


def test_the_s3_server_binds_loopback_and_its_key_pair_stays_out_of_argv():
    command = s3_server.command()
    assert command[1:4] == ["serve", "s3", ":memory:"]
    assert command[command.index("--addr") + 1] == f"127.0.0.1:{s3_server.PORT}"
    assert s3_server.SECRET_ACCESS_KEY not in " ".join(command)  # argv is world-readable in /proc
    assert s3_server.version().startswith("rclone v")


def test_a_cluster_made_by_another_postgres_version_is_named_with_the_fix(tmp_path):
    log = (
        "pg_ctl: could not start server\nExamine the log output.\n"
        "FATAL:  database files are incompatible with server\n"
        "DETAIL:  The data directory was initialized by PostgreSQL version 13, which is not compatible with this "
        "version 15.18.\n"
    )
    message = postgres_server.start_failure(tmp_path / "pg", log)
    assert "initialized by PostgreSQL version 13" in message
    assert f"rm -rf {tmp_path / 'pg'}" in message
    assert "make clean" in message
