"""The publication ledger's verdicts and SQL, per engine, through a recording cursor (parsed in Redshift's dialect)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import sqlfluff

from sparkify import publication
from sparkify.engines import PostgresEngine, RedshiftEngine
from sparkify.sql import SQL_DIR
from tests.recording import FakeTransactionHook, RecordingCursor

INTERVAL = {"data_interval_start": datetime(2018, 11, 15, 17), "data_interval_end": datetime(2018, 11, 15, 18)}
PASSED = {"check": "unique: users(user_id)", "severity": "error", "status": "pass", "observed": 0, "expected": "== 0"}
WARNED = {
    "check": "volume_vs_history: songplays",
    "severity": "warn",
    "status": "warn",
    "observed": -75.0,
    "expected": ">= -50",
}
FAILED = {
    "check": "reconciliation: songplays loaded",
    "severity": "error",
    "status": "fail",
    "observed": -1,
    "expected": "== 0",
}
BROKEN = {
    "check": "custom: broken",
    "severity": "error",
    "status": "error",
    "observed": "query failed: …",
    "expected": "== 0",
}


def parse_redshift(statement: str) -> None:
    parsed = sqlfluff.parse(statement.replace("%(", "'").replace(")s", "'"), dialect="redshift")
    assert "unparsable" not in str(parsed), statement


@pytest.mark.parametrize("engine_class", [PostgresEngine, RedshiftEngine])
def test_a_warning_publishes_and_is_recorded_with_the_verdict(engine_class):
    cur = RecordingCursor(results={"SELECT p.status": [("held_back",)]})
    verdict = publication.record_verdict(
        engine_class("redshift", FakeTransactionHook(cur)), INTERVAL, [PASSED, WARNED], "sparkify_etl", "manual__1"
    )
    assert (verdict.status, verdict.previous, verdict.newly_published) == ("published", "held_back", True)
    assert verdict.failed == []
    lock, read, forget, insert = cur.statements
    assert lock[0] == engine_class("x", None).lock_table("publications")
    assert read[1] == forget[1] == INTERVAL
    values = list(insert[1].values())
    assert values[:5] == [
        INTERVAL["data_interval_start"],
        INTERVAL["data_interval_end"],
        "published",
        "sparkify_etl",
        "manual__1",
    ]
    assert values[5] is None
    assert json.loads(values[6]) == [{"check": WARNED["check"], "observed": "-75.0", "expected": ">= -50"}]
    if engine_class is RedshiftEngine:
        for statement, _ in cur.statements:
            parse_redshift(statement)


def test_a_failed_or_broken_error_check_holds_the_interval_back_with_observed_and_expected():
    cur = RecordingCursor()
    verdict = publication.record_verdict(
        RedshiftEngine("redshift", FakeTransactionHook(cur)),
        INTERVAL,
        [PASSED, FAILED, BROKEN, WARNED],
        "sparkify_etl_daily",
        "scheduled__x",
    )
    assert (verdict.status, verdict.previous, verdict.newly_published) == ("held_back", None, False)
    assert [f["check"] for f in verdict.failed] == [FAILED["check"], BROKEN["check"]]
    insert = cur.statements[-1][1]
    assert json.loads(list(insert.values())[5])[0] == {"check": FAILED["check"], "observed": "-1", "expected": "== 0"}


def test_the_analysts_view_and_the_ledger_parse_as_redshift_sql():
    for path in (
        "ddl/06_publications.sql",
        "ddl/16_published_songplays.sql",
        "publication/held_back_intervals.sql",
        "publication/published_period.sql",
    ):
        parse_redshift((SQL_DIR / path).read_text())
    view = (SQL_DIR / "ddl/16_published_songplays.sql").read_text()
    assert "p.status = 'published'" in view
    assert "h.status = 'held_back'" in view  # a held-back hour stays hidden inside a published day
