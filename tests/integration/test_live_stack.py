"""The live local stack (make airflow): today's hours find their input, as scheduled runs and UI triggers do."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import load_dag, run_tasks

pytestmark = pytest.mark.integration


def test_the_current_hour_and_yesterdays_last_hour_load(local_stack, new_warehouse):
    from tools.seed import s3_client, seed_live

    now = datetime.now(UTC)
    bucket = f"live-{uuid.uuid4().hex[:8]}"
    keys = seed_live(bucket, now.date())  # an empty bucket: the generated data comes first
    assert len(keys) == 3
    listed = {o["Key"] for o in s3_client().list_objects_v2(Bucket=bucket, Prefix="log_data/")["Contents"]}
    assert set(keys) <= listed
    assert s3_client().list_objects_v2(Bucket=bucket, Prefix="song_data/")["KeyCount"] > 0

    wh = new_warehouse()
    hour = now.replace(minute=0, second=0, microsecond=0)
    # The scheduler's run of the last complete hour, and the hour a UI trigger "now" starts (it may be yesterday's).
    for start in (hour - timedelta(hours=1), hour):
        results = run_tasks(load_dag(), start, start + timedelta(hours=1), bucket=bucket)
        assert results["stage_events"]["objects_listed"] == 1
        assert results["run_quality_checks"]  # every check passed or only warned (a failure raises)
    assert wh.scalar("SELECT COUNT(*) FROM songplays") > 0
    assert wh.scalar("SELECT COUNT(song_id) FROM songplays") > 0  # plays resolve against the generated catalogue
    assert seed_live(bucket, now.date()) == keys  # idempotent: the same objects again
