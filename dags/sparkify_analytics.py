"""
### sparkify_analytics — answers for the analytics team, after the star schema changes

Scheduled on the **publication ledger's asset** (`sparkify.public.publications`), not on a clock: a run
starts after an ETL run (`sparkify_etl` or `sparkify_etl_daily`) published an interval whose checks passed and
that changed something for the analysts. An interval whose blocking checks failed is held back and starts
nothing; a rerun that finds the tables already right starts nothing either. The answers read only published
intervals (`published_songplays`).

1. **build_analytics_tables** answers each question of `include/sql/analytics/` (one statement per file: most
   played songs and artists, plays by hour × weekday, free vs paid listening, upgrades and downgrades, active
   users per day, plays that resolve to a known song, sessions and their length) as a table of the `analytics`
   schema — all replaced in one transaction, for BI tools to read.
2. **publish_report** renders the report — one self-contained HTML page (charts embedded: it opens without a
   network) with the period it covers, when it was built and from which ETL runs — to
   `s3://<work bucket>/reports/sparkify-report-<run>.html`, `reports/latest.html` (the project's work bucket,
   the Variable `sparkify_work_bucket`; never the source) and `$AIRFLOW_HOME/reports/sparkify-report.html`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from sparkify.alerts import FailureAlert
from sparkify.analytics import QUESTIONS, SCHEMA
from sparkify.assets import reads, star_schema_assets, table_asset, writes
from sparkify.operating import WRITER_POOL, run_timeout, task_timeout
from sparkify.operators import BuildAnalyticsTablesOperator, PublishReportOperator
from sparkify.settings import REPORT_PREFIX, WORK_BUCKET

with DAG(
    dag_id="sparkify_analytics",
    description="Answer the analytics questions as tables and publish the report, after the star schema changes",
    doc_md=__doc__,
    schedule=[table_asset("publications")],
    start_date=datetime(2018, 11, 1),
    catchup=False,
    dagrun_timeout=run_timeout(),
    max_active_runs=1,  # each run reads the tables as they are: runs queued behind it see the newest state
    default_args={
        "owner": "sparkify-data-eng",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": [FailureAlert()],  # mails when the smtp_alerts connection exists
    },
    tags=["sparkify", "analytics"],
) as dag:
    build_analytics_tables = BuildAnalyticsTablesOperator(
        task_id="build_analytics_tables",
        execution_timeout=task_timeout("build_analytics_tables"),
        pool=WRITER_POOL,  # it writes the warehouse's analytics schema
        doc_md="Rebuild the `analytics` schema's tables, one per question (`include/sql/analytics/`).",
        outlets=[alias for q in QUESTIONS for alias in writes(q.name, SCHEMA)],
        inlets=[*star_schema_assets(), table_asset("publications")],
    )
    publish_report = PublishReportOperator(
        task_id="publish_report",
        execution_timeout=task_timeout("publish_report"),
        doc_md="Render the report from the `analytics` tables and write it to the work bucket and a local path.",
        s3_bucket=WORK_BUCKET,
        s3_key=REPORT_PREFIX + "sparkify-report-{{ dag_run.run_after.strftime('%Y%m%dT%H%M%SZ') }}.html",
        latest_key=REPORT_PREFIX + "latest.html",
        inlets=reads(*(q.name for q in QUESTIONS), schema=SCHEMA),
    )
    build_analytics_tables >> publish_report
