"""Data quality against the real local Postgres: every family passes on a correct load and catches a defect."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sparkify.quality import (
    accepted_values,
    custom_sql,
    freshness,
    not_null,
    reconciliation,
    relationships,
    row_count,
    unique,
)
from tests.conftest import LOAD_TASKS, load_dag, run_tasks, utc

pytestmark = pytest.mark.integration

HOUR = (utc(2018, 11, 15, 17), utc(2018, 11, 15, 18))  # an hour with plays in the generated data
QUIET_HOUR = (utc(2018, 11, 15, 21), utc(2018, 11, 15, 22))  # no plays in the generated data


@pytest.fixture
def loaded(generated_bucket, new_warehouse):
    """A warehouse with HOUR loaded by the DAG (quality checks not yet run)."""
    wh = new_warehouse("quality")
    dag = load_dag()
    run_tasks(dag, *HOUR, bucket=generated_bucket, task_ids=LOAD_TASKS)
    assert wh.scalar("SELECT COUNT(*) FROM songplays") > 0
    return wh, dag, generated_bucket


def run_checks(dag, bucket, interval=HOUR):
    return run_tasks(dag, *interval, bucket=bucket, task_ids=["run_quality_checks"])["run_quality_checks"]


def status_of(results, prefix):
    matching = [r["status"] for r in results if r["check"].startswith(prefix)]
    assert matching, prefix
    return matching


def test_all_checks_pass_on_a_correct_load_and_are_stored(loaded):
    wh, dag, bucket = loaded
    results = run_checks(dag, bucket)
    assert {r["status"] for r in results} == {"pass"}, [r for r in results if r["status"] != "pass"]
    families = {r["check"].split(":")[0] for r in results}
    assert {"not_null", "unique", "accepted_values", "relationships", "reconciliation", "row_count", "freshness"} <= (
        families
    )
    tables = " ".join(r["check"] for r in results)
    for table in ("songplays", "users", "songs", "artists", "time"):
        assert table in tables
    stored = wh.query(
        "SELECT run_id, logical_date, check_name, severity, status, observed, expected FROM quality_results"
    )
    assert len(stored) == len(results)
    assert {s[1] for s in stored} == {HOUR[0].replace(tzinfo=None)}
    assert {s[4] for s in stored} == {"pass"}


def test_an_hour_with_no_plays_passes_honestly(loaded):
    _, dag, bucket = loaded
    run_tasks(dag, *QUIET_HOUR, bucket=bucket, task_ids=LOAD_TASKS)
    results = run_checks(dag, bucket, QUIET_HOUR)
    assert {r["status"] for r in results} == {"pass"}
    plays = [r for r in results if r["check"] == "row_count: songplays in interval"]
    assert plays[0]["observed"] == 0


DEFECTS = {
    "null key": (
        "UPDATE songplays SET user_id = NULL WHERE songplay_id = (SELECT MIN(songplay_id) FROM songplays)",
        "not_null: songplays(",
    ),
    "duplicate key": (
        # Redshift does not enforce primary keys: drop PostgreSQL's to inject what Redshift would accept.
        "ALTER TABLE users DROP CONSTRAINT users_pkey; INSERT INTO users SELECT * FROM users LIMIT 1",
        "unique: users(user_id)",
    ),
    "orphan foreign key": (
        "DELETE FROM artists WHERE artist_id IN (SELECT artist_id FROM songplays WHERE artist_id IS NOT NULL)"
        " OR artist_id = (SELECT MIN(artist_id) FROM artists)"
        "; UPDATE songplays SET artist_id = 'ARNOSUCHARTIST00000' WHERE songplay_id = (SELECT MIN(songplay_id)"
        " FROM songplays)",
        "relationships: songplays.artist_id → artists.artist_id",
    ),
    "missing songplay": (
        "DELETE FROM songplays WHERE songplay_id = (SELECT MAX(songplay_id) FROM songplays)",
        "reconciliation: songplays loaded",
    ),
    "out-of-set level": (
        "UPDATE users SET level = 'premium' WHERE user_id = (SELECT MIN(user_id) FROM users)",
        "accepted_values: users.level",
    ),
}


@pytest.mark.parametrize("defect", DEFECTS, ids=list(DEFECTS))
def test_each_error_defect_fails_the_task_naming_the_check(loaded, defect, capfd):
    from airflow.sdk.exceptions import AirflowFailException

    wh, dag, bucket = loaded
    statements, failing_check = DEFECTS[defect]
    for statement in statements.split("; "):
        _execute(wh, statement)
    with pytest.raises(AirflowFailException, match="data-quality check") as raised:
        run_checks(dag, bucket)
    assert failing_check in str(raised.value)
    stored = dict(wh.query("SELECT check_name, status FROM quality_results"))
    assert any(name.startswith(failing_check) and status == "fail" for name, status in stored.items())
    assert sum(status == "fail" for status in stored.values()) >= 1
    log = capfd.readouterr().out
    header = [
        line for line in log.splitlines() if line.split()[:5] == ["check", "severity", "status", "observed", "expected"]
    ]
    assert header, log[-3000:]  # one table of all results in the task log
    assert failing_check in log


def _execute(wh, statement):
    import psycopg

    with psycopg.connect(wh.dsn) as conn:
        conn.execute(statement)


def test_stale_data_is_a_warning_not_a_failure(loaded):
    wh, dag, bucket = loaded
    later = (HOUR[0] + timedelta(days=3), HOUR[1] + timedelta(days=3))  # three days with no plays loaded since
    results = run_checks(dag, bucket, later)
    (fresh,) = [r for r in results if r["check"].startswith("freshness: songplays")]
    assert fresh["status"] == "warn"
    assert fresh["observed"] > 24 * 3600
    assert "warn" in {s for (s,) in wh.query("SELECT status FROM quality_results")}


def test_every_family_on_its_own(loaded):
    """Each family compiled against the loaded hour: a passing and a failing instance."""
    from sparkify.operators import DataQualityOperator

    wh, _, _ = loaded
    interval = "start_time >= %(data_interval_start)s AND start_time < %(data_interval_end)s"
    n = wh.scalar("SELECT COUNT(*) FROM songplays")
    cases = [
        (custom_sql("custom ok", f"SELECT COUNT(*) FROM songplays WHERE {interval}", n), "pass"),
        (custom_sql("custom between", "SELECT COUNT(*) FROM songplays", (n + 1, n + 5), "between"), "fail"),
        (custom_sql("custom !=", "SELECT COUNT(*) FROM songplays", 0, "!="), "pass"),
        (not_null("songplays", ["song_id"], interval_column="start_time"), "fail"),  # most plays match no song
        (unique("songplays", ["user_id"], interval_column="start_time"), "fail"),  # users play many songs
        (accepted_values("users", "gender", ["F"]), "fail"),
        (relationships("songplays", "user_id", "users", "user_id", interval_column="start_time"), "pass"),
        (row_count("songs", minimum=1, maximum=10), "fail"),
        (
            reconciliation("songs = staged songs", "SELECT COUNT(*) FROM songs", "SELECT COUNT(*) FROM staging_songs"),
            "pass",
        ),
        (freshness("songplays", "start_time", max_age_seconds=3600, severity="error"), "pass"),
        (custom_sql("broken query", "SELECT COUNT(*) FROM no_such_table", 0), "error"),
    ]
    op = DataQualityOperator(task_id="dq", checks=[c for c, _ in cases], store_results=False)
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as raised:
        op.execute({"data_interval_start": HOUR[0], "data_interval_end": HOUR[1], "run_id": "families"})
    message = str(raised.value)
    for check, expected_status in cases:
        assert (check.name in message) == (expected_status != "pass"), check.name


def test_a_drop_in_volume_against_the_same_hour_of_earlier_weeks_warns(loaded):
    wh, dag, bucket = loaded
    results = run_checks(dag, bucket)
    (volume,) = [r for r in results if r["check"].startswith("volume_vs_history: songplays")]
    assert (volume["status"], volume["observed"]) == ("pass", "none: fewer than 2 earlier intervals with rows")

    n = wh.scalar("SELECT COUNT(*) FROM songplays")
    for week in (1, 2, 3, 4):  # the same hour of four earlier weeks held 4× the plays
        wh.execute(
            "INSERT INTO songplays (songplay_id, start_time, session_id, item_in_session) "
            "SELECT md5(CAST(%(w)s AS TEXT) || '-' || i), %(at)s, -%(w)s, i FROM generate_series(1, %(n)s) AS i",
            {"w": week, "at": HOUR[0] - timedelta(weeks=week) + timedelta(minutes=5), "n": 4 * n},
        )
    results = run_checks(dag, bucket)
    (volume,) = [r for r in results if r["check"].startswith("volume_vs_history: songplays")]
    assert volume["status"] == "warn"  # severity warn: reported, the task passes
    assert volume["observed"] == pytest.approx(-75.0)
    assert volume["expected"] == ">= -50"
