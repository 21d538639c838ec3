"""The failure alert's message, and that it is off without its connection (the SMTP path: tests/integration)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from sparkify.alerts import FailureAlert, compose
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


def test_a_quality_failure_lists_each_failed_check_observed_vs_expected():
    failed = [
        {"check": "unique: users(user_id)", "observed": 2, "expected": "== 0"},
        {"check": "row_count: <songs>", "observed": 0, "expected": ">= 1"},
    ]
    subject, body = compose({**CONTEXT, "exception": QualityChecksFailedError("2 failed", failed)})
    assert (
        subject == "[sparkify] sparkify_etl [2018-11-15 16:00, 2018-11-15 17:00) UTC: run_quality_checks — "
        "2 quality check(s) failed"
    )
    assert "<td>unique: users(user_id)</td><td>2</td><td>== 0</td>" in body
    assert "<td>row_count: &lt;songs&gt;</td>" in body  # escaped
    assert "href='http://127.0.0.1:28080/dags/sparkify_etl/runs/r1/tasks/run_quality_checks'" in body


def test_any_other_failure_says_what_was_raised():
    subject, body = compose({**CONTEXT, "exception": RuntimeError("missing input: no object at s3://b/k")})
    assert subject.endswith("run_quality_checks — task failed")
    assert "RuntimeError: missing input: no object at s3://b/k" in body
    assert "<table" not in body


def test_off_without_the_connection(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_ALERTS", raising=False)
    with caplog.at_level(logging.INFO, logger="sparkify.alerts"):
        FailureAlert().notify({**CONTEXT, "exception": RuntimeError("x")})
    assert "alerts are off: no 'smtp_alerts' connection" in caplog.text


def test_a_connection_without_recipients_sends_nothing_and_says_so(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_ALERTS", '{"conn_type": "smtp", "host": "127.0.0.1", "port": 1}')
    with caplog.at_level(logging.INFO, logger="sparkify.alerts"):
        FailureAlert().notify({**CONTEXT, "exception": RuntimeError("x")})
    assert "connection 'smtp_alerts' has no \"to\" in its extra" in caplog.text
