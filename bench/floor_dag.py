"""
### sparkify_floor(_daily) — Airflow's own floor for a run of sparkify_etl(_daily) (benchmark only)

The same twelve tasks, the same dependencies, timetable, retries, pools and `max_active_runs` as `sparkify_etl`
(and, for `sparkify_floor_daily`, as `sparkify_etl_daily`), but every task does nothing: eleven Python tasks that
return at once and the same `EmptyOperator` at the end. What a run of this DAG costs is what Airflow itself costs
to parse, schedule, start and record twelve tasks — the writers one at a time, as the ETL's pool has them; the
benchmark (`make bench`) divides sparkify_etl's time by it. Not in `dags/`: it is never deployed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

from sparkify.operating import WRITER_POOL
from sparkify.timetables import DailyDataIntervalTimetable, HourlyDataIntervalTimetable

WAIT = "wait_for_events"  # the ETL's sensor: not a writer, so not in the writer pool
TASKS = (
    WAIT,
    "begin",
    "stage_events",
    "stage_songs",
    "load_songplays",
    "load_users",
    "load_songs",
    "load_artists",
    "load_time",
    "run_quality_checks",
    "publish",
)


@task
def nothing() -> None:
    """Return at once: the work of the real task is what the floor leaves out."""


def floor_dag(dag_id: str, timetable, max_active_runs: int) -> DAG:
    with DAG(
        dag_id=dag_id,
        description="sparkify_etl's shape with tasks that do nothing: Airflow's floor (benchmark only)",
        doc_md=__doc__,
        schedule=timetable,
        start_date=datetime(2018, 11, 1),
        catchup=False,
        default_args={"owner": "sparkify-data-eng", "retries": 3, "retry_delay": timedelta(minutes=5)},
        max_active_runs=max_active_runs,
        tags=["sparkify", "benchmark"],
    ) as dag:
        t = {
            name: nothing.override(task_id=name, pool="default_pool" if name == WAIT else WRITER_POOL)()
            for name in TASKS
        }
        end = EmptyOperator(task_id="end")

        t["begin"] >> [t["stage_events"], t["stage_songs"]] >> t["load_songplays"]
        t[WAIT] >> t["stage_events"]
        t["load_songplays"] >> [t["load_users"], t["load_songs"], t["load_artists"], t["load_time"]]
        [t["load_users"], t["load_songs"], t["load_artists"], t["load_time"]] >> t["run_quality_checks"]
        t["publish"].trigger_rule = "all_done"  # as the ETL's gate
        t["run_quality_checks"] >> t["publish"] >> end
        t["run_quality_checks"] >> end
    return dag


dag = floor_dag("sparkify_floor", HourlyDataIntervalTimetable(), max_active_runs=4)
daily_dag = floor_dag("sparkify_floor_daily", DailyDataIntervalTimetable(), max_active_runs=2)
