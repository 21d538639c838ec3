"""The deadline watch on a real warehouse: each hour past its deadline that the ledger has not published alerts,
through the Slack channel (a local webhook), saying why; published hours and hours before the first publication
do not."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from sparkify import engines, publication
from tests.conftest import load_dag, run_tasks, utc

pytestmark = pytest.mark.integration

FAILED = {"check": "accepted_values: users.level", "severity": "error", "status": "fail", "observed": 1, "expected": 0}


def verdict(engine, start, end, results=(), dag_id="sparkify_etl"):
    interval = {"data_interval_start": start.replace(tzinfo=None), "data_interval_end": end.replace(tzinfo=None)}
    publication.record_verdict(engine, interval, list(results), dag_id, f"scheduled__{start.isoformat()}")


def watch(window_start, bucket, dag_runs=None) -> dict:
    """One run of the watch for the quarter hour starting at ``window_start``."""
    end = window_start + timedelta(minutes=15)
    results = run_tasks(load_dag("sparkify_deadlines"), window_start, end, bucket=bucket, dag_runs=dag_runs)
    return results["check_deadlines"]


def test_hours_past_their_deadline_alert_once_each_saying_why(
    local_stack, new_warehouse, generated_bucket, slack_webhook, monkeypatch
):
    url, webhook = slack_webhook
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS", json.dumps({"conn_type": "slackwebhook", "host": url, "password": "T/B/x"})
    )
    wh = new_warehouse("deadlines")
    assert watch(utc(2018, 11, 15, 19), generated_bucket) == {"judged": 0, "late": []}  # no ledger yet: day one

    run_tasks(load_dag(), utc(2018, 11, 15, 15), utc(2018, 11, 15, 16), bucket=generated_bucket, task_ids=["begin"])
    engine = engines.resolve("redshift", logging.getLogger("test"))
    verdict(engine, utc(2018, 11, 15, 15), utc(2018, 11, 15, 16))  # the first publication
    verdict(engine, utc(2018, 11, 15, 16), utc(2018, 11, 15, 17), [FAILED])  # held back
    verdict(engine, utc(2018, 11, 16), utc(2018, 11, 17), dag_id="sparkify_etl_daily")  # a day, by the daily DAG

    before_first = watch(utc(2018, 11, 15, 17), generated_bucket)  # judges [13:00, 14:00): before it
    on_time = watch(utc(2018, 11, 15, 19), generated_bucket)  # [15:00, 16:00): published
    held_back = watch(utc(2018, 11, 15, 20), generated_bucket)  # [16:00, 17:00)
    not_yet = watch(utc(2018, 11, 15, 20, 15), generated_bucket)  # no deadline in this window
    failed_run = watch(utc(2018, 11, 15, 21), generated_bucket, {("sparkify_etl", utc(2018, 11, 15, 17)): "failed"})
    no_run = watch(utc(2018, 11, 15, 22), generated_bucket)  # [18:00, 19:00): nothing at all
    by_the_day = watch(utc(2018, 11, 16, 13), generated_bucket)  # [2018-11-16 09:00, 10:00): its day is published

    assert [r["judged"] for r in (before_first, on_time, held_back, not_yet, failed_run, no_run, by_the_day)] == [
        0, 1, 1, 0, 1, 1, 1
    ]  # fmt: skip
    assert (on_time["late"], by_the_day["late"]) == ([], [])
    assert [r["late"][0]["reason"] for r in (held_back, failed_run, no_run)] == ["held_back", "run_failed", "no_run"]
    assert held_back["late"][0]["late_by_s"] > 8 * 365 * 86400  # judged today, years after 2018's deadline

    assert len(webhook) == 3  # one alert per late hour, nothing for the rest
    texts = [m["json"]["text"] for m in webhook]
    assert texts[0].startswith("[sparkify] sparkify_etl [2018-11-15 16:00, 2018-11-15 17:00) UTC: not published, ")
    assert texts[0].endswith(" past its deadline")
    fields = [f["text"] for f in webhook[0]["json"]["blocks"][1]["fields"]]
    assert "*deadline*\n2018-11-15 20:00 UTC (3h00m after the interval's end)" in fields
    assert "*why*\nheld back: its blocking quality checks failed" in fields
    assert "accepted_values: users.level" in json.dumps(webhook[0]["json"]["blocks"])
    assert "[2018-11-15 17:00, 2018-11-15 18:00)" in texts[1]
    assert "its run failed before the quality gate" in json.dumps(webhook[1]["json"]["blocks"])
    assert "there is no run for it" in json.dumps(webhook[2]["json"]["blocks"])
    assert wh.scalar("SELECT COUNT(*) FROM publications") == 3  # the watch only reads the ledger
