"""Real Airflow runs (`airflow dags test`) on the local stack: one hour, and two hours at the same time."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT, TEST_STATE, load_dag, run_tasks, utc, work_bucket_for
from tools.datagen import LOG_FIELDS

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

AIRFLOW = str(ROOT / ".venv" / "bin" / "airflow")


@pytest.fixture(scope="module")
def airflow_db(local_stack) -> Iterator[dict[str, str]]:
    """The environment of an Airflow with a metadata DB of its own (created and migrated by ``AirflowStack.up``).

    Its own, because the benchmark's smoke test runs ``airflow dags test`` of the same DAG and hours in the shared
    ``airflow`` DB, possibly at the same time on another pytest worker: one run per (DAG, logical date) in a DB.
    The module's first test runs one ``dags test`` alone: it writes the DAGs into the new DB, which two at once
    would race to do.
    """
    from tools import postgres_server
    from tools.airflow_stack import AirflowStack

    af = AirflowStack(home=TEST_STATE / "airflow-dagstest", metadata_db="airflow_dagstest", components=())
    postgres_server.psql(f"DROP DATABASE IF EXISTS {af.metadata_db} WITH (FORCE)")
    af.up()  # no components to start: the metadata DB only
    try:
        yield af.env()
    finally:
        postgres_server.psql(f"DROP DATABASE IF EXISTS {af.metadata_db} WITH (FORCE)")


def dags_test(
    airflow_env: dict[str, str], logical_date: str, conn_uri: str, bucket: str, **extra_env: str
) -> subprocess.Popen:
    env = {
        **airflow_env,
        "AIRFLOW_CONN_REDSHIFT": conn_uri,
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": bucket,
        "AIRFLOW_VAR_SPARKIFY_WORK_BUCKET": work_bucket_for(bucket),
        **extra_env,
    }
    return subprocess.Popen(
        [AIRFLOW, "dags", "test", "sparkify_etl", logical_date],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-4000:]
    assert "state=success" in out, out[-4000:]
    return out


def test_dags_test_loads_the_hour_at_its_logical_date_and_reports_its_lineage(
    airflow_db, generated_bucket, new_warehouse, tmp_path
):
    """One ``airflow dags test``: the hour starting at the logical date is loaded, the task logs say what happened
    with counts, and OpenLineage's file transport (offline) has S3 → staging → star schema, with schemas, row counts
    and the quality task's results as data-quality assertions."""
    import json

    wh = new_warehouse("lineage")
    events_file = tmp_path / "openlineage.jsonl"
    transport = json.dumps({"type": "file", "log_file_path": str(events_file), "append": True})
    lineage = {"AIRFLOW__OPENLINEAGE__TRANSPORT": transport, "AIRFLOW__OPENLINEAGE__NAMESPACE": "sparkify-test"}
    out = finish(dags_test(airflow_db, "2018-11-15T16:00:00+00:00", wh.conn_uri, generated_bucket, **lineage))
    assert "data_interval_start=2018-11-15 16:00:00+00:00, data_interval_end=2018-11-15 17:00:00+00:00" in out
    outside = wh.scalar(
        "SELECT COUNT(*) FROM songplays WHERE start_time < '2018-11-15 16:00' OR start_time >= '2018-11-15 17:00'"
    )
    assert outside == 0
    assert "staged " in out  # the task logs say what happened, with counts
    assert "rows selected" in out
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {e["job"]["name"].rsplit(".", 1)[-1]: e for e in events if e["eventType"] == "COMPLETE"}
    warehouse = f"postgres://{wh.dsn.split('@', 1)[1].split('/', 1)[0]}"
    database = wh.name

    def names(event, side):
        return sorted((d["namespace"], d["name"]) for d in event[side])

    def table(name):
        return (warehouse, f"{database}.public.{name}")

    stage = complete["stage_events"]
    assert names(stage, "inputs") == [(f"s3://{generated_bucket}", "log_data/2018/11/2018-11-15-events.json")]
    assert names(stage, "outputs") == [table("staging_events")]
    (out,) = stage["outputs"]
    staged = wh.scalar("SELECT COUNT(*) FROM staging_events")
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == staged > 0
    assert {"ts", "page", "user_id", "user_agent"} <= {f["name"] for f in out["facets"]["schema"]["fields"]}
    (log,) = stage["inputs"]  # the shape the object had, as its source contract declares it
    fields = {f["name"]: f for f in log["facets"]["schema"]["fields"]}
    assert list(fields) == list(LOG_FIELDS)
    assert (fields["ts"]["type"], fields["ts"]["description"]) == ("integer", "when it happened, epoch milliseconds")

    songs = complete["stage_songs"]
    assert names(songs, "inputs") == [(f"s3://{generated_bucket}", "song_data/")]  # 300 objects: the prefix
    assert names(songs, "outputs") == [table("staging_songs")]

    plays = complete["load_songplays"]
    assert names(plays, "inputs") == [table("staging_events"), table("staging_songs")]
    assert names(plays, "outputs") == [table("songplays")]
    loaded = wh.scalar("SELECT COUNT(*) FROM songplays")
    assert plays["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == loaded > 0
    assert names(complete["load_time"], "inputs") == [table("songplays")]

    quality = complete["run_quality_checks"]
    checked = {d["name"].rsplit(".", 1)[-1]: d for d in quality["inputs"]}
    assert {"songplays", "users", "songs", "artists", "time", "staging_events", "load_errors"} <= set(checked)
    assertions = checked["songplays"]["facets"]["dataQualityAssertions"]["assertions"]
    unique = next(a for a in assertions if a["assertion"] == "unique: songplays(songplay_id) in interval")
    assert (unique["success"], unique["column"], unique["actual"]) == (True, "songplay_id", "0")
    stored = wh.scalar("SELECT COUNT(*) FROM quality_results")
    assert quality["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == stored


def test_a_stage_stopped_by_its_time_limit_leaves_the_tables_as_before_and_frees_its_locks(
    airflow_db, generated_bucket, new_warehouse
):
    """stage_events copies the day's rows, then waits on a table another session holds; its time limit
    (SPARKIFY_TIMEOUT_STAGE_EVENTS, as an operator would lower it) stops it there. The server-side statement is
    cancelled — no lock is left waiting — the rows are rolled back, and the retry stages what a clean run does."""
    import psycopg

    hour = "2018-11-15T16:00:00+00:00"
    wh = new_warehouse("timeout")
    clean = new_warehouse("timeout_clean")
    for target in (wh, clean):
        with target.as_redshift_connection():
            run_tasks(load_dag(), utc(2018, 11, 15, 16), utc(2018, 11, 15, 17), generated_bucket, task_ids=["begin"])
    with clean.as_redshift_connection():
        run_tasks(load_dag(), utc(2018, 11, 15, 16), utc(2018, 11, 15, 17), generated_bucket, ["stage_events"])

    env = {
        **airflow_db,
        "AIRFLOW_CONN_REDSHIFT": wh.conn_uri,
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": generated_bucket,
        "AIRFLOW_VAR_SPARKIFY_WORK_BUCKET": work_bucket_for(generated_bucket),
    }
    task = [AIRFLOW, "tasks", "test", "sparkify_etl", "stage_events", hour]
    with psycopg.connect(wh.dsn) as holder:
        holder.execute("LOCK TABLE source_observations IN ACCESS EXCLUSIVE MODE")  # written after the COPY
        stopped = subprocess.run(
            task, env={**env, "SPARKIFY_TIMEOUT_STAGE_EVENTS": "5s"}, capture_output=True, text=True, timeout=300
        )
        log = stopped.stdout + stopped.stderr
        assert "AirflowTaskTimeout" in log, log[-4000:]
        assert "cancelling the statement still running in the server" in log, log[-4000:]
        waiting = holder.execute(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE NOT l.granted AND d.datname = current_database()"
        ).fetchone()[0]
        assert waiting == 0  # the stopped task's statement is gone from the server, not queued behind the lock
        holder.rollback()
    assert wh.scalar("SELECT COUNT(*) FROM staging_events") == 0
    assert wh.scalar("SELECT COUNT(*) FROM staged_objects") == 0

    with wh.as_redshift_connection():  # the retry
        run_tasks(load_dag(), utc(2018, 11, 15, 16), utc(2018, 11, 15, 17), generated_bucket, ["stage_events"])
    rows = [sorted(w.query("SELECT * FROM staging_events"), key=repr) for w in (wh, clean)]
    assert rows[0] == rows[1]
    assert len(rows[1]) > 0
