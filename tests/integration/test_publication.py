"""Only checked data reaches the analysts: the publish gate against the real local PostgreSQL and S3 server.

An hour whose blocking check fails is held back — out of the analytics tables and the report, which lists it with
the failed check (observed vs expected) — and a re-run after the fix publishes it. The gate's asset event, which
starts ``sparkify_analytics``, comes only when something changed for the analysts.
"""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from sparkify import engines, publication
from sparkify.analytics import report, tables
from tests.conftest import LOAD_TASKS, load_dag, run_tasks, utc

pytestmark = pytest.mark.integration

HOUR = (utc(2018, 11, 15, 17), utc(2018, 11, 15, 18))  # an hour with plays in the generated data
GATE = ["run_quality_checks", "publish"]


def analytics_plays() -> int:
    engine = engines.resolve("redshift")
    tables.build_tables(engine)
    answers = tables.read_answers(engine)
    return sum(int(r["plays"]) for r in answers["listening_by_level"])


def test_a_failing_blocking_check_holds_the_hour_back_until_a_rerun_after_the_fix_publishes_it(
    generated_bucket, new_warehouse, tmp_path
):
    wh = new_warehouse("publication")
    dag = load_dag()
    events: dict = {}
    run_tasks(dag, *HOUR, bucket=generated_bucket, task_ids=LOAD_TASKS + GATE, asset_events=events)
    plays = wh.scalar("SELECT COUNT(*) FROM songplays")
    assert plays > 0
    assert wh.query("SELECT status, failed_checks FROM publications") == [("published", None)]
    assert [name for name, _ in events["publish"]] == ["sparkify.public.publications"]  # starts the analytics DAG
    assert analytics_plays() == plays

    # A rerun that changes nothing publishes again and emits nothing: the analytics DAG is not started.
    events = {}
    run_tasks(dag, *HOUR, bucket=generated_bucket, task_ids=LOAD_TASKS + GATE, asset_events=events)
    assert events["publish"] == []

    # A broken load: a play vanishes from the fact, so reconciliation with staging (severity error) fails.
    wh.execute("DELETE FROM songplays WHERE songplay_id = (SELECT MAX(songplay_id) FROM songplays)")
    xcom: dict = {}
    with pytest.raises(AirflowFailException, match="data-quality check"):
        run_tasks(dag, *HOUR, bucket=generated_bucket, task_ids=["run_quality_checks"], xcom=xcom)
    events = {}
    held = run_tasks(dag, *HOUR, bucket=generated_bucket, task_ids=["publish"], xcom=xcom, asset_events=events)
    assert held["publish"]["status"] == "held_back"
    assert events["publish"] == []  # the analytics DAG is not started
    ((status, failed),) = wh.query("SELECT status, failed_checks FROM publications")
    assert status == "held_back"
    (check,) = json.loads(failed)
    assert check["check"].startswith("reconciliation: songplays loaded")
    assert (check["observed"], check["expected"]) == ("-1", "== 0")
    assert wh.scalar("SELECT COUNT(*) FROM published_songplays") == 0
    assert analytics_plays() == 0  # the analytics tables leave the held-back hour out

    engine = engines.resolve("redshift")
    status_now = publication.status(engine)
    assert status_now["published_from"] is None
    (held,) = status_now["held_back"]
    assert held["interval_start"] == HOUR[0].replace(tzinfo=None)
    html = render_report(engine, status_now)
    assert 'data-held-back="2018-11-15T17:00"' in html
    assert check["check"] in html
    page = tmp_path / "report.html"
    page.write_text(html)
    shown = held_back_rows_in_browser(page)
    assert shown == [["2018-11-15 17:00 – 2018-11-15 18:00", check["check"], "-1", "== 0"]]

    # Fixing the load (re-running it restores the play) and re-running the checks publishes the hour.
    events = {}
    run_tasks(dag, *HOUR, bucket=generated_bucket, task_ids=LOAD_TASKS + GATE, asset_events=events)
    assert wh.query("SELECT status, failed_checks FROM publications") == [("published", None)]
    assert [name for name, _ in events["publish"]] == ["sparkify.public.publications"]
    assert analytics_plays() == plays
    assert publication.status(engine)["held_back"] == []


def render_report(engine, status: dict) -> str:
    from datetime import datetime

    tables.build_tables(engine)
    answers = tables.read_answers(engine)
    return report.render(
        answers,
        tables.coverage(engine),
        built_at=datetime(2026, 12, 3),
        built_by="test",
        source_runs=[],
        engine=engine.name,
        publication=status,
    )


def held_back_rows_in_browser(page) -> list[list[str]]:
    """The held-back table as a reader sees it in headless chromium: interval, check, observed, expected."""
    from tests.browser import chromium

    with chromium() as browser:
        tab = browser.new_page()
        tab.goto(page.as_uri())
        assert tab.locator("[data-kpi=held-back]").inner_text() == "1"
        rows = tab.locator("[data-table=held-back] tbody tr")
        return [[c.inner_text().strip() for c in rows.nth(i).locator("td").all()[:4]] for i in range(rows.count())]
