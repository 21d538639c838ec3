"""A re-delivered source: rerunning an interval makes its facts equal to what the source now says."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LOAD_TASKS, load_dag, make_bucket, run_tasks, s3_client, utc
from tests.integration.test_bad_input import KEY, event, put
from tools.datagen import JSON_PATHS

pytestmark = pytest.mark.integration

HOUR = (utc(2018, 11, 15, 16), utc(2018, 11, 15, 17))
TASKS = [*LOAD_TASKS, "run_quality_checks"]


@pytest.fixture
def bucket(local_stack):
    name = make_bucket()
    s3_client().put_object(Bucket=name, Key="log_json_path.json", Body=json.dumps(JSON_PATHS).encode())
    s3_client().put_object(
        Bucket=name,
        Key="song_data/A/A/A/TRAAAAA.json",
        Body=json.dumps(
            {
                "song_id": "SOA",
                "title": "Sehr kosmisch",
                "artist_id": "ARA",
                "artist_name": "Harmonia",
                "duration": 655.77751,
                "year": 1975,
                "num_songs": 1,
                "artist_latitude": None,
                "artist_longitude": None,
                "artist_location": "",
            }
        ).encode(),
    )
    return name


def test_a_play_removed_from_the_source_is_removed_by_the_rerun(bucket, new_warehouse):
    wh = new_warehouse("redelivery")
    events = [event(i) for i in range(5)] + [event(9, page="Home")]
    put(bucket, KEY, events)
    first = run_tasks(load_dag(), *HOUR, bucket=bucket, task_ids=TASKS)
    assert first["load_songplays"]["inserted"] == 5
    assert wh.scalar("SELECT COUNT(*) FROM songplays") == 5
    assert wh.scalar('SELECT COUNT(*) FROM "time"') == 5

    put(bucket, KEY, [e for e in events if e["itemInSession"] != 3])  # the source drops one play
    second = run_tasks(load_dag(), *HOUR, bucket=bucket, task_ids=TASKS)  # quality passes: reconciliation holds
    assert second["load_songplays"]["removed"] == 1
    assert second["load_time"]["removed"] == 1
    assert wh.scalar("SELECT COUNT(*) FROM songplays") == 4
    assert wh.scalar("SELECT COUNT(*) FROM songplays WHERE item_in_session = 3") == 0
    assert wh.scalar('SELECT COUNT(*) FROM "time"') == 4

    third = run_tasks(load_dag(), *HOUR, bucket=bucket, task_ids=TASKS)  # idempotent
    assert (third["load_songplays"]["removed"], third["load_songplays"]["inserted"]) == (0, 0)


def test_other_intervals_are_left_alone(bucket, new_warehouse):
    """Only the run's interval is synced: a play of another hour is not removed by this hour's rerun."""
    wh = new_warehouse("redelivery_scope")
    put(bucket, KEY, [event(0), event(1, ts=1542297600000 + 3600 * 1000 + 5)])  # 16:00 and 17:00
    run_tasks(load_dag(), utc(2018, 11, 15, 17), utc(2018, 11, 15, 18), bucket=bucket, task_ids=TASKS)
    run_tasks(load_dag(), *HOUR, bucket=bucket, task_ids=TASKS)
    assert wh.scalar("SELECT COUNT(*) FROM songplays") == 2
