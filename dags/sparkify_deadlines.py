"""
### sparkify_deadlines — an alert when an hour is not published to the analysts in time

Every 15 minutes, **check_deadlines** judges the hours of `sparkify_etl` whose deadline — the hour's end plus
`SPARKIFY_DEADLINE` (default 3h) — fell in this run's interval, so each hour is judged once, soon after its
deadline. An hour is on time when the publication ledger (`publications`) has a published interval covering it:
its own, or its day's from `sparkify_etl_daily`. Otherwise an alert goes through the same channels as failures
(mail through `smtp_alerts`, Slack through `slack_alerts`, when they exist) with the DAG, the hour, how late it is
and why: held back by its quality checks (listed), its run still going, its run failed before the gate, or no run
at all. Hours before the first published interval are not judged. The run is green either way; the alerts and the
task log say what was late.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from sparkify.alerts import FailureAlert
from sparkify.operating import deadline, run_timeout, task_timeout
from sparkify.operators import CheckDeadlinesOperator
from sparkify.timetables import QuarterHourlyDataIntervalTimetable

with DAG(
    dag_id="sparkify_deadlines",
    description="Alert when an hour of sparkify_etl is not published to the analysts by its deadline",
    doc_md=__doc__,
    schedule=QuarterHourlyDataIntervalTimetable(),
    start_date=datetime(2018, 11, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(),
    default_args={
        "owner": "sparkify-data-eng",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": [FailureAlert()],  # the watch itself failing (warehouse unreachable) alerts too
    },
    tags=["sparkify", "operations"],
) as dag:
    CheckDeadlinesOperator(
        task_id="check_deadlines",
        execution_timeout=task_timeout("check_deadlines"),
        watched_dag_id="sparkify_etl",
        deadline=deadline(),
        doc_md="Alert on each hour of sparkify_etl whose deadline fell in this interval and that is not published.",
    )
