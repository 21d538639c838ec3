"""The benchmark's floor DAG must stay sparkify_etl's shape, or the ETL/floor ratio compares unlike things."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT, load_dag


def load_floor():
    spec = importlib.util.spec_from_file_location("sparkify_floor_under_test", ROOT / "bench" / "floor_dag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def edges(dag) -> set[tuple[str, str]]:
    return {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}


def test_floor_has_the_etl_tasks_dependencies_and_run_settings():
    etl, floor = load_dag(), load_floor()
    assert sorted(floor.task_ids) == sorted(etl.task_ids)
    assert edges(floor) == edges(etl)
    assert type(floor.timetable) is type(etl.timetable)
    assert floor.max_active_runs == etl.max_active_runs
    assert {t.task_id: t.retries for t in floor.tasks} == {t.task_id: t.retries for t in etl.tasks}
    assert {t.task_id: t.pool for t in floor.tasks} == {t.task_id: t.pool for t in etl.tasks}
    assert floor.get_task("end").task_type == etl.get_task("end").task_type == "EmptyOperator"


def test_the_daily_floor_matches_the_daily_etl():
    spec = importlib.util.spec_from_file_location("etl_under_test", ROOT / "dags" / "sparkify_etl.py")
    etl_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(etl_module)
    spec = importlib.util.spec_from_file_location("floor_under_test", ROOT / "bench" / "floor_dag.py")
    floor_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floor_module)
    etl, floor = etl_module.daily_dag, floor_module.daily_dag
    assert edges(floor) == edges(etl)
    assert type(floor.timetable) is type(etl.timetable)
    assert floor.max_active_runs == etl.max_active_runs
