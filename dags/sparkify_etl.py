"""
### sparkify_etl — S3 JSON → warehouse star schema, one hour at a time

Every run covers one **data interval** `[data_interval_start, data_interval_end)` of one hour (UTC):

1. **begin** ensures the warehouse tables exist (idempotent DDL).
2. **stage_events** stages the day's activity log `log_data/YYYY/MM/YYYY-MM-DD-events.json` (the day of the
   interval) into `staging_events`; **stage_songs** stages the `song_data/` objects that are new or changed
   since the last successful load (tracked by key and ETag) into `staging_songs` — trigger with
   `full_reload_songs: true` to re-stage them all.
3. **load_songplays** upserts the interval's `NextSong` events into the `songplays` fact.
4. **load_users / load_songs / load_artists / load_time** upsert the dimensions.
5. **run_quality_checks** checks the interval's rows; **end** marks the run complete.

The warehouse connection `redshift` decides how staging runs: Redshift `COPY` on Redshift, a streaming
`COPY FROM STDIN` on PostgreSQL (the embedded default). Re-running an hour leaves every table identical;
different hours may run concurrently. The bucket comes from the Airflow Variable `sparkify_s3_bucket`
(default `sparkify`; env `AIRFLOW_VAR_SPARKIFY_S3_BUCKET`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

from sparkify.operators import (
    CreateTablesOperator,
    DataQualityOperator,
    LoadDimensionOperator,
    LoadFactOperator,
    StageToRedshiftOperator,
)
from sparkify.timetables import HourlyDataIntervalTimetable

SQL_DIR = Path(__file__).resolve().parent.parent / "include" / "sql"
BUCKET = "{{ var.value.get('sparkify_s3_bucket', 'sparkify') }}"
INTERVAL = "ts >= %(data_interval_start)s AND ts < %(data_interval_end)s"

QUALITY_CHECKS = [
    {
        "name": "songplays_reconcile_with_staged_plays",
        "sql": "SELECT (SELECT COUNT(*) FROM songplays WHERE start_time >= %(data_interval_start)s"
        " AND start_time < %(data_interval_end)s) - (SELECT COUNT(DISTINCT CAST(session_id AS VARCHAR) || '-'"
        f" || CAST(item_in_session AS VARCHAR)) FROM staging_events WHERE page = 'NextSong' AND {INTERVAL})",
        "expected": 0,
    },
    {
        "name": "time_covers_songplays",
        "sql": 'SELECT COUNT(*) FROM songplays AS sp LEFT JOIN "time" AS t ON sp.start_time = t.start_time'
        " WHERE t.start_time IS NULL AND sp.start_time >= %(data_interval_start)s"
        " AND sp.start_time < %(data_interval_end)s",
        "expected": 0,
    },
    {
        "name": "users_cover_songplays",
        "sql": "SELECT COUNT(*) FROM songplays AS sp LEFT JOIN users AS u ON sp.user_id = u.user_id"
        " WHERE u.user_id IS NULL AND sp.start_time >= %(data_interval_start)s"
        " AND sp.start_time < %(data_interval_end)s",
        "expected": 0,
    },
    {
        "name": "users_level_is_free_or_paid",
        "sql": "SELECT COUNT(*) FROM users WHERE level IS NULL OR level NOT IN ('free', 'paid')",
        "expected": 0,
    },
    {"name": "songs_not_empty", "sql": "SELECT COUNT(*) FROM songs", "expected": 0, "comparison": ">"},
    {"name": "artists_not_empty", "sql": "SELECT COUNT(*) FROM artists", "expected": 0, "comparison": ">"},
]

default_args = {
    "owner": "sparkify-data-eng",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "email_on_retry": False,
    "email_on_failure": False,
}

with DAG(
    dag_id="sparkify_etl",
    description="Stage Sparkify's S3 JSON into the warehouse and load the star schema, hourly",
    doc_md=__doc__,
    schedule=HourlyDataIntervalTimetable(),
    start_date=datetime(2018, 11, 1),
    catchup=False,
    default_args=default_args,
    max_active_runs=4,
    template_searchpath=[str(SQL_DIR)],
    tags=["sparkify", "warehouse"],
    params={
        "full_reload_songs": Param(
            False, type="boolean", description="Re-stage every song object instead of only new or changed ones"
        )
    },
) as dag:
    begin = CreateTablesOperator(task_id="begin")

    stage_events = StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        s3_bucket=BUCKET,
        s3_key="log_data/{{ data_interval_start.strftime('%Y/%m/%Y-%m-%d') }}-events.json",
        json_paths="log_json_path.json",
        json_layout="lines",
    )
    stage_songs = StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        s3_bucket=BUCKET,
        s3_key="song_data/",
        json_paths="auto",
        json_layout="document",
        incremental=True,
        key_columns=["song_id"],
        full_reload="{{ params.full_reload_songs }}",
    )

    load_songplays = LoadFactOperator(
        task_id="load_songplays", table="songplays", sql="load/songplays.sql", key_columns=["songplay_id"]
    )
    load_users = LoadDimensionOperator(
        task_id="load_users", table="users", sql="load/users.sql", mode="upsert", key_columns=["user_id"]
    )
    load_songs = LoadDimensionOperator(
        task_id="load_songs", table="songs", sql="load/songs.sql", mode="upsert", key_columns=["song_id"]
    )
    load_artists = LoadDimensionOperator(
        task_id="load_artists", table="artists", sql="load/artists.sql", mode="upsert", key_columns=["artist_id"]
    )
    load_time = LoadDimensionOperator(
        task_id="load_time", table="time", sql="load/time.sql", mode="upsert", key_columns=["start_time"]
    )

    run_quality_checks = DataQualityOperator(task_id="run_quality_checks", checks=QUALITY_CHECKS)
    end = EmptyOperator(task_id="end")

    begin >> [stage_events, stage_songs] >> load_songplays
    load_songplays >> [load_users, load_songs, load_artists, load_time] >> run_quality_checks >> end
