"""The alert's content, the same on every channel; each channel off without its connection; Slack through the
slack provider's notifier to a local HTTP server standing in for the webhook (mail end to end: tests/integration)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from sparkify.alerts import FailureAlert, failure, send
from sparkify.quality import QualityChecksFailedError

TI = SimpleNamespace(
    dag_id="sparkify_etl",
    task_id="run_quality_checks",
    try_number=1,
    log_url="http://127.0.0.1:28080/dags/sparkify_etl/runs/r1/tasks/run_quality_checks",
)
CONTEXT = {
    "ti": TI,
    "run_id": "r1",
    "data_interval_start": datetime(2018, 11, 15, 16, tzinfo=UTC),
    "data_interval_end": datetime(2018, 11, 15, 17, tzinfo=UTC),
}
FAILED = [
    {"check": "unique: users(user_id)", "observed": 2, "expected": "== 0"},
    {"check": "row_count: <songs>", "observed": 0, "expected": ">= 1"},
]


@pytest.fixture(autouse=True)
def no_alert_connections(monkeypatch):
    for name in ("AIRFLOW_CONN_SMTP_ALERTS", "AIRFLOW_CONN_SLACK_ALERTS"):
        monkeypatch.delenv(name, raising=False)


def test_a_quality_failure_lists_each_failed_check_observed_vs_expected():
    alert = failure({**CONTEXT, "exception": QualityChecksFailedError("2 failed", FAILED)})
    assert (
        alert.subject == "[sparkify] sparkify_etl [2018-11-15 16:00, 2018-11-15 17:00) UTC: run_quality_checks — "
        "2 quality check(s) failed"
    )
    body = alert.html()
    assert "<td>unique: users(user_id)</td><td>2</td><td>== 0</td>" in body
    assert "<td>row_count: &lt;songs&gt;</td>" in body  # escaped
    assert "href='http://127.0.0.1:28080/dags/sparkify_etl/runs/r1/tasks/run_quality_checks'" in body


def test_any_other_failure_says_what_was_raised():
    alert = failure({**CONTEXT, "exception": RuntimeError("missing input: no object at s3://b/k")})
    assert alert.subject.endswith("run_quality_checks — task failed")
    assert "RuntimeError: missing input: no object at s3://b/k" in alert.html()
    assert "<table" not in alert.html()


def test_off_without_any_connection(caplog):
    with caplog.at_level(logging.INFO, logger="sparkify.alerts"):
        FailureAlert().notify({**CONTEXT, "exception": RuntimeError("x")})
    assert "alerts through 'smtp_alerts' are off: Airflow connection 'smtp_alerts' is not defined" in caplog.text
    assert "alerts through 'slack_alerts' are off: Airflow connection 'slack_alerts' is not defined" in caplog.text


def test_a_mail_connection_without_recipients_sends_nothing_and_says_so(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_ALERTS", '{"conn_type": "smtp", "host": "127.0.0.1", "port": 1}')
    with caplog.at_level(logging.INFO, logger="sparkify.alerts"):
        assert send(failure({**CONTEXT, "exception": RuntimeError("x")}), CONTEXT) == []
    assert "connection 'smtp_alerts' has no \"to\" in its extra" in caplog.text


def test_slack_gets_the_same_alert_as_blocks_through_the_webhook(slack_webhook, monkeypatch):
    url, webhook = slack_webhook
    conn = {"conn_type": "slackwebhook", "host": url, "password": "T1/B2/x"}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", json.dumps(conn))
    FailureAlert().notify({**CONTEXT, "exception": QualityChecksFailedError("2 failed", FAILED)})
    (request,) = webhook
    assert request["path"] == "/services/T1/B2/x"
    message = request["json"]
    assert message["text"] == failure({**CONTEXT, "exception": QualityChecksFailedError("", FAILED)}).subject
    header, facts, checks, error, link = message["blocks"]
    assert header["text"]["text"].endswith("run_quality_checks — 2 quality check(s) failed")
    assert [f["text"] for f in facts["fields"]][:2] == [
        "*DAG*\nsparkify_etl",
        "*interval*\n[2018-11-15 16:00, 2018-11-15 17:00) UTC",
    ]
    assert checks["text"]["text"].splitlines() == [
        "• `unique: users(user_id)` — observed *2*, expected *== 0*",
        "• `row_count: &lt;songs&gt;` — observed *0*, expected *&gt;= 1*",  # Slack's own escaping
    ]
    assert error["text"]["text"] == "*error*\nQualityChecksFailedError: 2 failed"
    assert link["text"]["text"] == f"<{TI.log_url}|the task's log>"


def test_a_webhook_that_refuses_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS",
        json.dumps({"conn_type": "slackwebhook", "host": "http://127.0.0.1:1", "password": "x"}),
    )
    with caplog.at_level(logging.WARNING, logger="sparkify.alerts"):
        assert send(failure({**CONTEXT, "exception": RuntimeError("x")}), CONTEXT) == []
    assert "alert not sent through 'slack_alerts'" in caplog.text
