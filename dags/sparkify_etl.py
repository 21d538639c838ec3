"""
### {dag_id} — S3 JSON → warehouse star schema, {cadence}

Two DAGs are built from this one definition — the same tasks, SQL and checks, writing the same tables:
**sparkify_etl** runs **hourly** (live: each hour as it completes) and **sparkify_etl_daily** runs **daily**
(for loading history: `airflow backfill create --dag-id sparkify_etl_daily …` loads a month in 30 runs). Both
may run at the same time; results equal a load hour by hour.

Every run covers one **data interval** `[data_interval_start, data_interval_end)` (UTC):

1. **begin** ensures the warehouse tables exist (idempotent DDL); **wait_for_events** waits for the day's
   activity log, deferred to the triggerer so a late file holds no worker, up to `SPARKIFY_INPUT_WAIT`.
2. **stage_events** stages the day's activity log `log_data/YYYY/MM/YYYY-MM-DD-events.json` (the day of the
   interval) into `staging_events` — once per version of the object (by ETag): the other hours of the day read
   nothing; **stage_songs** stages the `song_data/` objects that are new or changed
   since the last successful load (tracked by key and ETag) into `staging_songs` — trigger with
   `full_reload_songs: true` to re-stage them all.
3. **load_songplays** upserts the interval's `NextSong` events into the `songplays` fact (and removes the
   interval's plays the source no longer has).
4. **load_users / load_songs / load_artists / load_time** upsert the dimensions.
5. **run_quality_checks** runs the checks declared in `sparkify/warehouse_checks.py` (not-null, unique,
   accepted values, relationships, reconciliation with staging, row counts, freshness) on the interval's
   facts and on the dimensions; results go to the task log and to the `quality_results` table.
6. **publish** is the gate to the analysts: when no `error` check failed, the interval is published
   (`publications`; the analytics tables and the report read only published intervals) and
   `sparkify_analytics` is started if anything changed; otherwise it is held back with the failed checks (the
   run is red through `run_quality_checks`). A re-run that passes publishes it.
7. **end** marks the run complete: the interval is loaded, checked and published.

The warehouse connection `redshift` decides how staging runs: Redshift `COPY` on Redshift, a streaming
`COPY FROM STDIN` on PostgreSQL (the embedded default). Re-running an interval leaves every table identical.
Runs of different intervals overlap, but every task that writes the warehouse takes a slot of the pool
`sparkify_warehouse_writers`, shared with the other DAGs' writers (one slot unless the deployment sets more). Each
task has a time limit and each run one (`sparkify/operating.py`). The source
bucket comes from the Airflow Variable `sparkify_s3_bucket` (default `sparkify`) and is only read; COPY manifests
go to the project's work bucket, the Variable `sparkify_work_bucket` (default `sparkify-work`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

from sparkify.alerts import FailureAlert
from sparkify.assets import reads, writes, writes_every_run
from sparkify.operating import WRITER_POOL, input_poke, input_wait, run_timeout, task_timeout
from sparkify.operators import (
    CreateTablesOperator,
    DataQualityOperator,
    LoadDimensionOperator,
    LoadFactOperator,
    PublishIntervalOperator,
    StageToRedshiftOperator,
    WaitForS3ObjectSensor,
)
from sparkify.settings import SOURCE_BUCKET, WORK_BUCKET
from sparkify.sql import SQL_DIR
from sparkify.timetables import DailyDataIntervalTimetable, HourlyDataIntervalTimetable
from sparkify.warehouse_checks import SPARKIFY_CHECKS

# The day's activity log, which every interval of the day reads (the daily DAG's interval is the day).
EVENTS_KEY = "log_data/{{ data_interval_start.strftime('%Y/%m/%Y-%m-%d') }}-events.json"

# A task that writes a table through its alias runs one run at a time: they would wait on the table's lock anyway,
# and two first events through an alias at once collide in Airflow (sparkify.assets). Across DAGs the writer pool
# keeps them apart (sparkify.operating).
ONE_RUN_AT_A_TIME = 1
default_args = {
    "owner": "sparkify-data-eng",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "email_on_retry": False,
    "email_on_failure": False,
    "on_failure_callback": [FailureAlert()],  # mails when the smtp_alerts connection exists; off otherwise
}


def etl_dag(dag_id: str, timetable, cadence: str, tag: str, max_active_runs: int) -> DAG:
    """The ETL as one DAG with the given data-interval timetable (the tasks are the same for every cadence)."""
    with DAG(
        dag_id=dag_id,
        description=f"Stage Sparkify's S3 JSON into the warehouse and load the star schema, {cadence}",
        doc_md=__doc__.replace("{dag_id}", dag_id).replace("{cadence}", cadence),
        schedule=timetable,
        start_date=datetime(2018, 11, 1),
        catchup=False,
        default_args=default_args,
        max_active_runs=max_active_runs,
        dagrun_timeout=run_timeout(),  # a run stuck anywhere fails rather than holding its place for ever
        template_searchpath=[str(SQL_DIR)],
        render_template_as_native_obj=True,  # a Param's integer or boolean reaches the operator as one
        tags=["sparkify", "warehouse", tag],
        params={
            "full_reload_songs": Param(
                False, type="boolean", description="Re-stage every song object instead of only new or changed ones"
            ),
            "max_errors_events": Param(
                0,
                type="integer",
                minimum=0,
                description="Bad log lines stage_events may reject (recorded in load_errors) before it fails",
            ),
            "max_errors_songs": Param(
                10,
                type="integer",
                minimum=0,
                description="Bad song documents stage_songs may reject (recorded in load_errors) before it fails",
            ),
        },
    ) as dag:
        begin = CreateTablesOperator(
            task_id="begin",
            execution_timeout=task_timeout("begin"),
            pool=WRITER_POOL,
            doc_md="Create the warehouse tables if they do not exist (idempotent DDL).",
        )

        wait_for_events = WaitForS3ObjectSensor(
            task_id="wait_for_events",
            doc_md="Wait for the interval's daily log file, deferred to the triggerer (no worker is held), up to "
            "`SPARKIFY_INPUT_WAIT`; then fail naming the object and how long it waited.",
            bucket_name=SOURCE_BUCKET,
            bucket_key=EVENTS_KEY,
            timeout=input_wait(),
            poke_interval=input_poke(),
        )
        stage_events = StageToRedshiftOperator(
            task_id="stage_events",
            execution_timeout=task_timeout("stage_events"),
            pool=WRITER_POOL,
            doc_md="Stage the interval's daily log file (JSON lines) into `staging_events` once per version "
            "(ETag): a new version replaces exactly its rows, an unchanged one is not read. Fails with the S3 "
            "location if the file is missing or empty.",
            table="staging_events",
            outlets=writes("staging_events"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
            s3_bucket=SOURCE_BUCKET,
            work_bucket=WORK_BUCKET,
            s3_key=EVENTS_KEY,
            json_paths="log_json_path.json",
            contract="log_data",
            json_layout="lines",
            incremental=True,
            max_errors="{{ params.max_errors_events }}",
        )
        stage_songs = StageToRedshiftOperator(
            task_id="stage_songs",
            execution_timeout=task_timeout("stage_songs"),
            pool=WRITER_POOL,
            doc_md="Stage new or changed `song_data/` objects (by ETag) into `staging_songs`; an unchanged "
            "catalogue is listed, not read.",
            table="staging_songs",
            outlets=writes("staging_songs"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
            s3_bucket=SOURCE_BUCKET,
            work_bucket=WORK_BUCKET,
            s3_key="song_data/",
            json_paths="auto",
            contract="song_data",
            json_layout="document",
            incremental=True,
            key_columns=["song_id"],
            max_errors="{{ params.max_errors_songs }}",
            full_reload="{{ params.full_reload_songs }}",
        )

        load_songplays = LoadFactOperator(
            task_id="load_songplays",
            execution_timeout=task_timeout("load_songplays"),
            pool=WRITER_POOL,
            doc_md="Upsert the interval's NextSong events into `songplays` (songplay_id = md5(session-item)); "
            "plays of the interval no longer in the source (a re-delivered log) are removed.",
            table="songplays",
            outlets=writes("songplays"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
            inlets=reads("staging_events", "staging_songs"),
            sql="load/songplays.sql",
            key_columns=["songplay_id"],
            interval_column="start_time",
        )
        load_users = LoadDimensionOperator(
            task_id="load_users",
            execution_timeout=task_timeout("load_users"),
            pool=WRITER_POOL,
            doc_md="Upsert users seen in the interval, keeping each user's latest event's attributes.",
            table="users",
            outlets=writes("users"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
            inlets=reads("staging_events"),
            sql="load/users.sql",
            mode="upsert",
            key_columns=["user_id"],
        )
        load_songs = LoadDimensionOperator(
            task_id="load_songs",
            execution_timeout=task_timeout("load_songs"),
            pool=WRITER_POOL,
            doc_md="Upsert one row per song_id from the staged catalogue (only new or changed rows are written).",
            table="songs",
            outlets=writes("songs"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
            inlets=reads("staging_songs"),
            sql="load/songs.sql",
            mode="upsert",
            key_columns=["song_id"],
        )
        load_artists = LoadDimensionOperator(
            task_id="load_artists",
            execution_timeout=task_timeout("load_artists"),
            pool=WRITER_POOL,
            doc_md="Upsert one row per artist_id (a deterministic pick where source rows disagree).",
            table="artists",
            outlets=writes("artists"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
            inlets=reads("staging_songs"),
            sql="load/artists.sql",
            mode="upsert",
            key_columns=["artist_id"],
        )
        load_time = LoadDimensionOperator(
            task_id="load_time",
            execution_timeout=task_timeout("load_time"),
            pool=WRITER_POOL,
            doc_md="Upsert one row per distinct songplay start_time of the interval; remove the interval's rows "
            "no play has any more.",
            table="time",
            outlets=writes("time"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
            inlets=reads("songplays"),
            sql="load/time.sql",
            mode="upsert",
            key_columns=["start_time"],
            interval_column="start_time",
        )

        run_quality_checks = DataQualityOperator(
            task_id="run_quality_checks",
            execution_timeout=task_timeout("run_quality_checks"),
            pool=WRITER_POOL,
            checks=SPARKIFY_CHECKS,
            outlets=writes_every_run("quality_results"),  # results are appended on every run
            inlets=reads(*sorted({c.table for c in SPARKIFY_CHECKS if c.table})),
            doc_md="Run the checks of `sparkify/warehouse_checks.py`; results in the log and `quality_results`.",
        )
        loads = [load_songplays, load_users, load_songs, load_artists, load_time]
        publish = PublishIntervalOperator(
            task_id="publish",
            execution_timeout=task_timeout("publish"),
            pool=WRITER_POOL,
            doc_md="Publish the interval to the analysts when no `error` check failed, else hold it back "
            "(recorded with the failed checks); emits the `publications` event that starts `sparkify_analytics`.",
            checks_task_id=run_quality_checks.task_id,
            load_task_ids=[t.task_id for t in loads],
            outlets=writes("publications"),
            inlets=reads("quality_results"),
            max_active_tis_per_dag=ONE_RUN_AT_A_TIME,
        )
        end = EmptyOperator(task_id="end", doc_md="The interval is loaded, checked and published.")

        begin >> [stage_events, stage_songs] >> load_songplays
        wait_for_events >> stage_events
        load_songplays >> [load_users, load_songs, load_artists, load_time] >> run_quality_checks >> publish >> end
        run_quality_checks >> end  # a held-back interval keeps the run red (publish itself succeeds in recording it)
    return dag


# Live: each hour as it completes. History: whole days (30 runs for a month).
dag = etl_dag("sparkify_etl", HourlyDataIntervalTimetable(), "one hour at a time", "hourly", max_active_runs=4)
daily_dag = etl_dag("sparkify_etl_daily", DailyDataIntervalTimetable(), "one day at a time", "daily", max_active_runs=2)
