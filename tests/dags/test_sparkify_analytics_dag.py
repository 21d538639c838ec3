"""DAG integrity of sparkify_analytics: scheduled on the star schema's assets, one table asset per question."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def dag():
    spec = importlib.util.spec_from_file_location("sparkify_analytics", ROOT / "dags" / "sparkify_analytics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_scheduled_on_the_publication_ledger_not_on_the_loads_nor_a_clock(dag):
    """Only an interval whose blocking checks passed reaches the analysts: the ETL's publish step emits this."""
    from sparkify.assets import table_asset

    assert list(dag.timetable.asset_condition.objects) == [table_asset("publications")]
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_shape_and_outlets(dag):
    from sparkify.analytics import QUESTIONS
    from sparkify.assets import writes

    assert {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids} == {
        ("build_analytics_tables", "publish_report")
    }
    build = dag.get_task("build_analytics_tables")
    assert build.outlets == [a for q in QUESTIONS for a in writes(q.name, "analytics")]
    assert all(t.doc_md for t in dag.tasks)


def test_every_question_has_its_sql_file():
    from sparkify.analytics import QUESTIONS
    from sparkify.sql import SQL_DIR

    names = {p.stem for p in (SQL_DIR / "analytics").glob("*.sql")}
    assert names == {q.name for q in QUESTIONS}
    assert {p.stem for p in (SQL_DIR / "redshift" / "analytics").glob("*.sql")} <= names
