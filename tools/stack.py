"""The embedded default's local stack: PostgreSQL (warehouse + Airflow metadata DB) and an S3 server (rclone).

Usage: python -m tools.stack up|servers|down|status|env   (servers: up without migrating Airflow's metadata DB)

Everything lives under ``.local/`` in the project (git-ignored). Both servers listen on 127.0.0.1 only, are
started in the background and stopped by PID (:mod:`tools.postgres_server`, :mod:`tools.s3_server`); ``up`` and
``down`` are idempotent. This module holds what the stack is as a whole: its buckets, and the connections and
variables that point Airflow at it (``env``).
"""

from __future__ import annotations

import json
import os
import shlex
import sys

from tools import postgres_server, s3_server
from tools.paths import LOCAL
from tools.processes import stop_pidfile

BUCKET = os.environ.get("SPARKIFY_BUCKET", "sparkify")  # the source: the data, only read by the DAGs
WORK_BUCKET = os.environ.get("SPARKIFY_WORK_BUCKET", "sparkify-work")  # what the DAGs write (manifests, reports)
REGION = "us-west-2"
TEST_REDIS_PIDFILE = LOCAL / "tests" / "redis" / "redis.pid"  # the Celery test's broker (tests/integration)


def local_target() -> dict[str, str]:
    """The local stack's connections and variables (``SPARKIFY_TARGET=local`` marks them)."""
    aws = {
        "conn_type": "aws",
        "login": s3_server.ACCESS_KEY_ID,
        "password": s3_server.SECRET_ACCESS_KEY,
        "extra": {
            "endpoint_url": s3_server.ENDPOINT,
            "region_name": REGION,
            # rclone's S3 server answers a ranged GET with the whole object's stored CRC32, which botocore then
            # finds wrong for the part (s3transfer downloads objects over 8 MB in ranges): validate a response's
            # checksum only when the request asks for one (S3ToSqlOperator and S3Hook.download_file need this).
            "config_kwargs": {"response_checksum_validation": "when_required"},
        },
    }
    return {
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
        "AIRFLOW_CONN_REDSHIFT": postgres_server.url(postgres_server.WAREHOUSE_DB, "postgres"),
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": BUCKET,
        "AIRFLOW_VAR_SPARKIFY_WORK_BUCKET": WORK_BUCKET,
        "SPARKIFY_BUCKET": BUCKET,
        "SPARKIFY_WORK_BUCKET": WORK_BUCKET,
        "SPARKIFY_TARGET": "local",
        "WAREHOUSE_DSN": postgres_server.url(postgres_server.WAREHOUSE_DB),
    }


def env() -> dict[str, str]:
    """Environment for Airflow and psql against the local stack: Airflow's settings and the local target's
    connections and variables, and nothing else."""
    from tools.airflow_stack import airflow_env

    return {**airflow_env(), **local_target()}


def servers_up() -> None:
    postgres_server.up()
    s3_server.up()


def main(argv: list[str]) -> None:
    cmd = argv[1] if len(argv) > 1 else "status"
    if cmd in ("up", "servers"):  # servers: PostgreSQL and S3 only (the tests bring their own metadata DBs)
        servers_up()
        if cmd == "up":
            from tools.airflow_stack import AirflowStack

            AirflowStack().ensure_metadata_db()
    elif cmd == "down":
        stop_pidfile(TEST_REDIS_PIDFILE, "the test Redis")  # left behind only by an interrupted test run
        s3_server.down()
        postgres_server.down()
    elif cmd == "status":
        print(f"postgres: {'up' if postgres_server.running() else 'down'} ({postgres_server.PORT})")
        print(f"s3: {'up' if s3_server.running() else 'down'} ({s3_server.PORT})")
    elif cmd == "env":
        for key, value in env().items():
            print(f"export {key}={shlex.quote(value)}")
    else:
        sys.exit(f"usage: python -m tools.stack up|servers|down|status|env (got {cmd!r})")


if __name__ == "__main__":
    main(sys.argv)
