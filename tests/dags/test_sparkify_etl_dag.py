"""DAG integrity: it imports cleanly, with the intended shape, schedule and defaults — and no parse-time I/O."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ROOT, load_dag, utc
from tests.dags.offline import run_offline


@pytest.fixture(scope="module")
def dag():
    return load_dag()


def test_dagbag_imports_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["sparkify_analytics", "sparkify_deadlines", "sparkify_etl", "sparkify_etl_daily"]


def test_graph_shape(dag):
    edges = {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}
    dims = ["load_users", "load_songs", "load_artists", "load_time"]
    assert edges == {
        ("begin", "stage_events"),
        ("wait_for_events", "stage_events"),
        ("begin", "stage_songs"),
        ("stage_events", "load_songplays"),
        ("stage_songs", "load_songplays"),
        *{("load_songplays", d) for d in dims},
        *{(d, "run_quality_checks") for d in dims},
        ("run_quality_checks", "publish"),
        ("publish", "end"),
        ("run_quality_checks", "end"),
    }


def test_operators_are_the_project_operators(dag):
    kinds = {t.task_id: type(t).__name__ for t in dag.tasks}
    assert kinds["stage_events"] == kinds["stage_songs"] == "StageToRedshiftOperator"
    assert kinds["load_songplays"] == "LoadFactOperator"
    assert {kinds[d] for d in ("load_users", "load_songs", "load_artists", "load_time")} == {"LoadDimensionOperator"}
    assert kinds["run_quality_checks"] == "DataQualityOperator"
    assert kinds["publish"] == "PublishIntervalOperator"
    assert kinds["wait_for_events"] == "WaitForS3ObjectSensor"


def test_the_gate_runs_whatever_the_checks_said_and_decides_from_their_results(dag):
    """A failed check must still be recorded as a held-back interval: the gate runs after the checks in any case."""
    publish = dag.get_task("publish")
    assert publish.trigger_rule == "all_done"
    assert publish.checks_task_id == "run_quality_checks"
    assert set(publish.load_task_ids) == {"load_songplays", "load_users", "load_songs", "load_artists", "load_time"}


def test_default_args_and_schedule(dag):
    args = dag.default_args
    assert args["owner"]
    assert args["depends_on_past"] is False
    assert args["retries"] == 3
    assert args["retry_delay"] == timedelta(minutes=5)
    assert args["email_on_retry"] is False
    assert dag.catchup is False
    assert dag.start_date == utc(2018, 11, 1)
    for task in dag.tasks:
        assert task.retries == 3


def test_intervals_are_one_real_hour_and_start_at_the_logical_date(dag):
    import pendulum
    from airflow.timetables.base import DataInterval, TimeRestriction

    def utc(*args):
        return pendulum.datetime(*args, tz="UTC")

    tt = dag.timetable
    manual = tt.infer_manual_data_interval(run_after=utc(2018, 11, 15, 16))
    assert (manual.start, manual.end) == (utc(2018, 11, 15, 16), utc(2018, 11, 15, 17))
    inside = tt.infer_manual_data_interval(run_after=utc(2018, 11, 15, 16, 42))
    assert (inside.start, inside.end) == (utc(2018, 11, 15, 16), utc(2018, 11, 15, 17))
    restriction = TimeRestriction(earliest=utc(2018, 11, 1), latest=None, catchup=True)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert (first.data_interval.start, first.data_interval.end) == (utc(2018, 11, 1), utc(2018, 11, 1, 1))
    after = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(utc(2018, 11, 1), utc(2018, 11, 1, 1)), restriction=restriction
    )
    assert after.data_interval.start == utc(2018, 11, 1, 1)
    assert after.data_interval.end - after.data_interval.start == timedelta(hours=1)


def test_the_daily_dag_is_the_same_definition_with_one_day_intervals(dag):
    import importlib.util

    import pendulum

    spec = importlib.util.spec_from_file_location("etl", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    daily = module.daily_dag
    assert daily.dag_id == "sparkify_etl_daily"
    assert [t.task_id for t in daily.tasks] == [t.task_id for t in dag.tasks]
    for hourly_task in dag.tasks:
        daily_task = daily.get_task(hourly_task.task_id)
        assert type(daily_task) is type(hourly_task)
        for field in (*hourly_task.template_fields, "table", "mode", "key_columns", "interval_column", "checks"):
            assert getattr(daily_task, field, None) == getattr(hourly_task, field, None), (hourly_task.task_id, field)
    assert daily.params.dump() == dag.params.dump()
    at = pendulum.datetime(2018, 11, 15, 16, 42, tz="UTC")
    interval = daily.timetable.infer_manual_data_interval(run_after=at)
    assert (interval.start, interval.end) == (
        pendulum.datetime(2018, 11, 15, tz="UTC"),
        pendulum.datetime(2018, 11, 16, tz="UTC"),
    )


def test_event_key_follows_the_interval(dag):
    task = dag.get_task("stage_events")
    assert "data_interval_start" in task.s3_key
    assert task.json_paths == "log_json_path.json"


def test_parsing_does_no_io_and_needs_no_connections():
    """Parse the DAG with no connections defined and sockets forbidden: it must not touch the network."""
    lines = run_offline(f"""
import importlib.util
spec = importlib.util.spec_from_file_location("d", {str(ROOT / "dags" / "sparkify_etl.py")!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print(len(m.dag.tasks))
""")
    assert lines[-1] == "12"


@pytest.mark.parametrize(
    ("operator", "kwargs", "message"),
    [
        ("StageToRedshiftOperator", {"table": "staging events", "s3_bucket": "b", "s3_key": "k"}, "invalid table"),
        (
            "StageToRedshiftOperator",
            {"table": "t", "s3_bucket": "b", "s3_key": "k", "json_layout": "csv"},
            "json_layout must be one of",
        ),
        (
            "StageToRedshiftOperator",
            {"table": "t", "s3_bucket": "b", "s3_key": "k", "max_errors": -1},
            "max_errors must be a whole number",
        ),
        (
            "StageToRedshiftOperator",
            {"table": "t", "s3_bucket": "b", "s3_key": "k", "key_columns": ["Song ID"]},
            "invalid key column",
        ),
        ("LoadFactOperator", {"table": "songplays; DROP TABLE users", "sql": "SELECT 1"}, "invalid table"),
        ("LoadDimensionOperator", {"table": "users", "sql": "SELECT 1", "mode": "merge"}, "mode must be one of"),
        (
            "LoadDimensionOperator",
            {"table": "users", "sql": "SELECT 1", "interval_column": "ts"},
            "interval_column needs mode 'upsert'",
        ),
        ("DataQualityOperator", {"checks": []}, "no checks"),
    ],
)
def test_bad_operator_arguments_are_refused_when_the_dag_is_parsed(operator, kwargs, message):
    """Not at run time with retries: these fail without a retry (AirflowFailException) and before any run."""
    from airflow.sdk.exceptions import AirflowFailException

    import sparkify.operators

    with pytest.raises(AirflowFailException, match=message):
        getattr(sparkify.operators, operator)(task_id="t", **kwargs)


def test_templated_parameters_arrive_typed_and_are_checked_when_rendered(dag):
    """The DAG renders templates as native objects: a Param's integer reaches the operator as an int; text
    (a DAG rendering to text, or a typo) is refused naming the parameter and the fix."""
    from airflow.sdk.exceptions import AirflowFailException

    from sparkify.operators import StageToRedshiftOperator

    assert dag.render_template_as_native_obj is True
    template = "{{ params.x }}"
    task = StageToRedshiftOperator(task_id="t", table="t", s3_bucket="b", s3_key="k", max_errors=template)
    task.max_errors, task.full_reload = 10, True
    assert (task.spec().max_errors, task.spec().full_reload) == (10, True)
    task.max_errors = "10"
    with pytest.raises(
        AirflowFailException, match=r"max_errors must be a whole number >= 0, got '10' \(a template rendered"
    ):
        task.spec()
    task.max_errors, task.full_reload = 0, "yes"
    with pytest.raises(AirflowFailException, match="full_reload must be true or false, got 'yes'"):
        task.spec()


def test_every_task_that_writes_a_table_declares_its_changes_alias(dag):
    from sparkify.assets import writes, writes_every_run

    writers = {t.task_id: getattr(t, "table", None) for t in dag.tasks} | {"publish": "publications"}
    for task in dag.tasks:
        table = writers[task.task_id]
        if task.task_id == "run_quality_checks":  # appends its results on every run
            assert task.outlets == writes_every_run("quality_results")
        else:
            assert task.outlets == (writes(table) if table else []), task.task_id
        # one run at a time (sparkify.assets: the alias race)
        assert task.max_active_tis_per_dag == (1 if table else None), task.task_id


def test_every_asset_reached_through_an_alias_is_declared_by_some_dag():
    """A statically named asset (an inlet or outlet of any DAG) exists from parse time, in its group, so no two
    first events race to create it (sparkify.assets)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import Asset, AssetAlias

    from sparkify.analytics import QUESTIONS, SCHEMA
    from sparkify.assets import changes, table_asset

    dags = DagBag(dag_folder=str(ROOT / "dags")).dags.values()
    ports = [p for d in dags for t in d.tasks for p in [*t.inlets, *t.outlets]]
    declared = {p for p in ports if isinstance(p, Asset)}
    etl = ["staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time", "publications"]
    written = [("public", t) for t in etl] + [(SCHEMA, q.name) for q in QUESTIONS]
    assert {p.name for p in ports if isinstance(p, AssetAlias)} == {changes(t, s).name for s, t in written}
    assert {table_asset(t, s) for s, t in written} - declared == set()
    assert table_asset("quality_results") in declared


def test_every_task_alerts_on_failure_through_the_notifier(dag):
    from sparkify.alerts import FailureAlert

    for task in dag.tasks:
        assert [type(c) for c in task.on_failure_callback] == [FailureAlert], task.task_id


def test_loads_and_checks_declare_the_tables_they_read(dag):
    def names(task_id):
        return [a.name for a in dag.get_task(task_id).inlets]

    assert names("load_songplays") == ["sparkify.public.staging_events", "sparkify.public.staging_songs"]
    assert names("load_time") == ["sparkify.public.songplays"]
    assert {"sparkify.public.songplays", "sparkify.public.users", "sparkify.public.staging_events"} <= set(
        names("run_quality_checks")
    )


def test_every_task_that_works_has_a_time_limit_and_every_run_has_one(dag):
    """From sparkify.operating: a hung COPY fails its task (and its run) instead of holding a worker and a lock."""
    from airflow.dag_processing.dagbag import DagBag

    from sparkify.operating import RUN_TIMEOUT, TASK_TIMEOUTS, duration

    for d in DagBag(dag_folder=str(ROOT / "dags")).dags.values():
        assert d.dagrun_timeout == duration(RUN_TIMEOUT, "default"), d.dag_id
        for task in d.tasks:
            if task.task_id in ("end", "wait_for_events"):  # never runs on a worker; waits up to its own limit
                continue
            assert task.execution_timeout == duration(TASK_TIMEOUTS[task.task_id], "default"), (d.dag_id, task)


def load_etl_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("etl_settings", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_limits_are_overridden_by_the_environment(monkeypatch):
    monkeypatch.setenv("SPARKIFY_TIMEOUT_STAGE_SONGS", "90m")
    monkeypatch.setenv("SPARKIFY_RUN_TIMEOUT", "6h")
    module = load_etl_module()
    for d in (module.dag, module.daily_dag):
        assert d.get_task("stage_songs").execution_timeout == timedelta(minutes=90)
        assert d.get_task("stage_events").execution_timeout == timedelta(minutes=30)
        assert d.dagrun_timeout == timedelta(hours=6)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SPARKIFY_TIMEOUT_LOAD_USERS": "20"}, r"SPARKIFY_TIMEOUT_LOAD_USERS='20': expected a positive duration"),
        ({"SPARKIFY_RUN_TIMEOUT": "1h"}, r"SPARKIFY_RUN_TIMEOUT \(1:00:00\) must be longer than SPARKIFY_INPUT_WAIT"),
    ],
)
def test_a_bad_setting_fails_the_import_naming_the_variable(monkeypatch, env, message):
    from sparkify.operating import SettingError

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=message):
        load_etl_module()


def test_every_warehouse_writer_of_every_dag_takes_a_slot_of_the_one_writer_pool():
    """Hourly, daily and analytics runs write the same warehouse: one pool keeps their writers apart."""
    from airflow.dag_processing.dagbag import DagBag

    from sparkify.operating import WRITER_POOL

    dags = DagBag(dag_folder=str(ROOT / "dags")).dags
    pools = {(d.dag_id, t.task_id): t.pool for d in dags.values() for t in d.tasks}
    readers = ("sparkify_analytics", "sparkify_deadlines")
    writers = {k for k in pools if k[0] not in readers and k[1] not in ("wait_for_events", "end")}
    writers.add(("sparkify_analytics", "build_analytics_tables"))
    assert {k for k, pool in pools.items() if pool == WRITER_POOL} == writers
    assert pools[("sparkify_etl", "wait_for_events")] == "default_pool"  # deferred, it holds no slot anyway
    assert pools[("sparkify_analytics", "publish_report")] == "default_pool"  # writes the work bucket only


def test_the_day_file_is_waited_for_deferrably_up_to_the_input_wait(dag, monkeypatch):
    from sparkify.operating import input_poke, input_wait

    wait = dag.get_task("wait_for_events")
    assert wait.deferrable is True
    assert (wait.timeout, wait.poke_interval) == (input_wait().total_seconds(), input_poke().total_seconds())
    assert wait.bucket_key == dag.get_task("stage_events").s3_key  # the object stage_events reads
    assert wait.bucket_name == dag.get_task("stage_events").s3_bucket
    assert dag.dagrun_timeout > input_wait()
    monkeypatch.setenv("SPARKIFY_INPUT_WAIT", "30m")
    monkeypatch.setenv("SPARKIFY_INPUT_POKE", "10s")
    waits = load_etl_module().dag.get_task("wait_for_events")
    assert (waits.timeout, waits.poke_interval) == (1800, 10)
