"""Registers the project's timetables with Airflow (required to serialise a custom timetable), and imports the
modules the ETL's tasks run on once per Airflow process instead of once per task.

Under LocalExecutor every task runs in a process forked from a worker that the scheduler forked after it loaded
this plugin, so what is imported here is already in every task process and a task does not spend its first
CPU-second importing psycopg, the hooks, pyarrow and pgpq (bench/results.md measures a backfill with it).
Nothing here connects or reads.
"""

import importlib
from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from sparkify.timetables import (
    DailyDataIntervalTimetable,
    HourlyDataIntervalTimetable,
    QuarterHourlyDataIntervalTimetable,
)

# What the ETL's tasks import when they run: the operators (psycopg, engines, ingest), the warehouse and S3 hooks,
# and the staging encoders.
TASK_MODULES = (
    "sparkify.operators",
    "airflow.providers.postgres.hooks.postgres",
    "airflow.providers.amazon.aws.hooks.s3",
    "pyarrow.json",
    "pyarrow.compute",
    "pgpq",
)
for _module in TASK_MODULES:
    importlib.import_module(_module)


class SparkifyPlugin(AirflowPlugin):
    name = "sparkify"
    timetables: ClassVar[list] = [
        HourlyDataIntervalTimetable,
        DailyDataIntervalTimetable,
        QuarterHourlyDataIntervalTimetable,
    ]
