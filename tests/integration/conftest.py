"""Fixtures of the course-data tests (test_course_month.py, test_course_hours.py)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TEST_RUN, ScratchWarehouse, load_dag, run_tasks, shared_lock
from tests.integration.course import MONTH, raw_events, raw_songs
from tools import postgres_server


@pytest.fixture(scope="session")
def raw() -> tuple[list[dict], list[dict]]:
    """Every event and every song document of the course data."""
    return raw_events(), raw_songs()


@pytest.fixture(scope="session")
def course_catalogue(course_bucket, admin_dsn) -> tuple[str, dict]:
    """A warehouse in which the DAG's ``begin`` and ``stage_songs`` ran over the month: the staged catalogue.

    Built once per test run for every worker (staging the 14,896 song objects from the local S3 server takes ~35 s);
    the month's and the hours' warehouses start as copies of it (``CREATE DATABASE … TEMPLATE``), exactly as if
    those two tasks had run in each. Returns its name and ``stage_songs``' result. The next run replaces it.
    """
    name = f"test_course_catalogue_{TEST_RUN[:12]}"
    with shared_lock("course-catalogue") as folder:
        result = folder / f"{name}.json"
        if not result.exists():
            for old in postgres_server.psql(
                r"SELECT datname FROM pg_database WHERE datname LIKE 'test\_course\_catalogue\_%'"
            ).split():
                postgres_server.psql(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
            for old in folder.glob("test_course_catalogue_*.json"):
                old.unlink()
            with ScratchWarehouse(admin_dsn, name).as_redshift_connection():
                staged = run_tasks(load_dag(), *MONTH, bucket=course_bucket, task_ids=["begin", "stage_songs"])
            result.write_text(json.dumps(staged["stage_songs"]))
        return name, json.loads(result.read_text())
