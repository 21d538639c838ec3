"""A day whose events change shape at some hour: the hours before load as before, the hours after fail naming the
fields, and every object's shape is kept in ``source_observations`` — also for the stages that failed."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from sparkify.ingest.contracts import SourceContractBreachError
from tests.conftest import COURSE_DATA, load_dag, make_bucket, run_tasks, s3_client, utc
from tools.datagen import JSON_PATHS

pytestmark = pytest.mark.integration

KEY = "log_data/2018/11/2018-11-15-events.json"
CHANGE = 16  # the hour the producer's new version went live
TASKS = ["begin", "stage_events", "load_songplays"]


def hour(h: int) -> tuple[datetime, datetime]:
    return utc(2018, 11, 15, h), utc(2018, 11, 15, h + 1)


def hour_of(event: dict) -> int:
    return datetime.fromtimestamp(event["ts"] / 1000, UTC).hour


def new_shape(event: dict) -> dict:
    """The producer's new version: two fields renamed, one added, one of another type."""
    changed = dict(event)
    changed["user_id"] = changed.pop("userId")
    changed["artist_name"] = changed.pop("artist")
    changed["plan"] = "student"
    changed["sessionId"] = f"S-{event['sessionId']}"  # no longer an integer
    return changed


@pytest.fixture(scope="module")
def day(generated_data) -> list[dict]:
    """2018-11-15's events: the course's when present, else generated ones of the same shape."""
    path = COURSE_DATA / KEY if (COURSE_DATA / KEY).exists() else generated_data / KEY
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def deliver(bucket: str, events: list[dict]) -> None:
    s3_client().put_object(Bucket=bucket, Key=KEY, Body=b"".join(orjson.dumps(e) + b"\n" for e in events))


def as_delivered_after(day: list[dict], last_hour: int, fixed: bool = False) -> list[dict]:
    """The day's file as the source holds it once ``last_hour`` has ended (the file grows through the day)."""
    return [e if fixed or hour_of(e) < CHANGE else new_shape(e) for e in day if hour_of(e) <= last_hour]


def test_the_hours_before_a_shape_change_load_and_the_hours_after_fail_naming_the_fields(
    local_stack, new_warehouse, day
):
    bucket = make_bucket()
    s3_client().put_object(Bucket=bucket, Key="log_json_path.json", Body=orjson.dumps(JSON_PATHS))
    wh = new_warehouse("drift")
    dag = load_dag()
    budget = {"max_errors_events": 10_000}  # the changed type is rejected line by line, within the budget
    for h in (CHANGE - 2, CHANGE - 1):
        deliver(bucket, as_delivered_after(day, h))
        staged = run_tasks(dag, *hour(h), bucket=bucket, task_ids=TASKS, params=budget)["stage_events"]
        assert (staged["rows_staged"], staged["lines_rejected"]) == (len(as_delivered_after(day, h)), 0)
    plays_before = wh.scalar("SELECT COUNT(*) FROM songplays")
    assert plays_before == sum(e["page"] == "NextSong" and hour_of(e) in (CHANGE - 2, CHANGE - 1) for e in day) > 0

    delivered = as_delivered_after(day, CHANGE)
    changed = sum(hour_of(e) == CHANGE for e in delivered)
    deliver(bucket, delivered)
    with pytest.raises(SourceContractBreachError) as failure:
        run_tasks(dag, *hour(CHANGE), bucket=bucket, task_ids=TASKS, params=budget)
    message = str(failure.value)
    share = f"{changed / len(delivered):.1%} of {len(delivered):,} records"
    assert f"s3://{bucket}/{KEY}" in message
    assert f"required field userId missing in {share}" in message
    assert f"field artist absent from {share}" in message
    assert "unknown field user_id" in message
    assert "unknown field artist_name" in message
    assert f"column session_id: {changed:,} values of the wrong type rejected" in message
    # Nothing of the failed stage landed: the staged rows are the previous hour's delivery, the plays unchanged.
    assert wh.scalar("SELECT COUNT(*) FROM staging_events") == len(as_delivered_after(day, CHANGE - 1))
    assert wh.scalar("SELECT COUNT(*) FROM songplays") == plays_before

    # Every stage's judgement is kept, the failed one's too, queryable over time.
    rows = wh.query(
        "SELECT run_id, field, finding, severity, affected, records FROM source_observations "
        "WHERE contract = 'log_data' ORDER BY observed_at, field"
    )
    by_run: dict[str, set] = {}
    for run, field, finding, severity, affected, records in rows:
        by_run.setdefault(run, set()).add((field, finding, severity, affected, records))
    first, second, failed = (by_run[f"test__{hour(h)[0].isoformat()}"] for h in (CHANGE - 2, CHANGE - 1, CHANGE))
    assert first == {(None, "conforms", "ok", 0, len(as_delivered_after(day, CHANGE - 2)))}
    assert second == {(None, "conforms", "ok", 0, len(as_delivered_after(day, CHANGE - 1)))}
    n = len(delivered)
    assert failed == {
        ("userId", "missing", "error", changed, n),
        ("artist", "dropped", "error", changed, n),
        ("user_id", "unknown", "warn", changed, n),
        ("artist_name", "unknown", "warn", changed, n),
        ("plan", "unknown", "warn", changed, n),
        ("session_id", "wrong_type", "warn", changed, n),
    }

    # The producer fixes its release and re-delivers the day: the rerun loads the hour.
    deliver(bucket, as_delivered_after(day, CHANGE, fixed=True))
    rerun = run_tasks(dag, *hour(CHANGE), bucket=bucket, task_ids=TASKS, params=budget)
    assert rerun["stage_events"]["rows_staged"] == len(delivered)
    assert wh.scalar("SELECT COUNT(*) FROM songplays") == plays_before + sum(
        e["page"] == "NextSong" and hour_of(e) == CHANGE for e in day
    )
