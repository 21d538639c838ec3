"""Airflow 3 for real: api-server + scheduler + dag-processor + triggerer on the local stack, started as
``make airflow`` starts them (``AirflowStack.up``), with a metadata database, port and warehouse of their own.

A run triggered through the REST API, a backfill created with the airflow CLI and a run triggered from the web UI
(headless Chromium) must succeed and leave the expected rows in the warehouse. Then the same installation
switches its scheduler to CeleryExecutor with a local Redis broker and a separate ``airflow celery worker``, and
a run must succeed there too.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import (
    AIRFLOW_TEST_PORT,
    REDIS_TEST_PORT,
    ROOT,
    alert_connections,
    run_tasks,
    scratch_airflow,
    smtp_server,
    utc,
    webhook_server,
    work_bucket_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

PORT = AIRFLOW_TEST_PORT
INPUT_WAIT = 60  # seconds an hour waits for its day file in these tests (SPARKIFY_INPUT_WAIT)


def plays_per_hour(folder) -> dict[str, int]:
    """NextSong events per UTC hour, straight from the generated JSON files."""
    counts: dict[str, int] = {}
    for path in (folder / "log_data").rglob("*.json"):
        for line in path.read_text().splitlines():
            e = json.loads(line)
            if e["page"] == "NextSong":
                hour = (datetime(1970, 1, 1) + timedelta(milliseconds=e["ts"])).strftime("%Y-%m-%dT%H")
                counts[hour] = counts.get(hour, 0) + 1
    return counts


@pytest.fixture(scope="module")
def alerts() -> Iterator[tuple[int, str, list, list]]:
    """The stack's alert channels: a local SMTP server and a local Slack webhook, and what each received."""
    with smtp_server() as (port, mails), webhook_server() as (url, posts):
        yield port, url, mails, posts


@pytest.fixture(scope="module")
def airflow(local_stack, admin_dsn, generated_bucket, alerts):
    dag_ids = ("sparkify_etl", "sparkify_analytics")  # both unpaused, as a user would
    env = {"SPARKIFY_INPUT_WAIT": f"{INPUT_WAIT}s", "SPARKIFY_INPUT_POKE": "3s"}  # a late file, in test time
    env.update(alert_connections(*alerts[:2]))  # failures and deadlines alert by mail and Slack
    with scratch_airflow(admin_dsn, "e2e", PORT, generated_bucket, dag_ids=dag_ids, extra_env=env) as (af, wh):
        yield af, wh


def wait_for(af, run_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = af.api("GET", f"dags/sparkify_etl/dagRuns/{run_id}")
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(2)
    raise AssertionError(f"run {run_id} did not finish in {timeout:.0f} s")


def test_the_dag_is_visible_unpaused_and_documented(airflow):
    af, _ = airflow
    details = af.api("GET", "dags/sparkify_etl/details")
    assert details["is_paused"] is False
    assert "S3 JSON → warehouse star schema" in details["doc_md"]
    tasks = {t["task_id"]: t for t in af.api("GET", "dags/sparkify_etl/tasks")["tasks"]}
    assert len(tasks) == 12
    assert all(t["doc_md"] for t in tasks.values())
    assert details["timetable_description"].startswith("Every hour")


def test_a_run_triggered_through_the_rest_api_succeeds(airflow, generated_data):
    af, wh = airflow
    af.api("POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "rest_api_test", "logical_date": "2018-11-15T17:00:00Z"})
    run = wait_for(af, "rest_api_test")
    assert run["state"] == "success"
    assert (run["data_interval_start"], run["data_interval_end"]) == ("2018-11-15T17:00:00Z", "2018-11-15T18:00:00Z")
    expected = plays_per_hour(generated_data)["2018-11-15T17"]
    loaded = wh.scalar(
        "SELECT COUNT(*) FROM songplays WHERE start_time >= '2018-11-15 17:00' AND start_time < '2018-11-15 18:00'"
    )
    assert loaded == expected > 0
    # Each task log says what it did, with counts and timings.
    for task, phrase in [
        ("stage_events", "staged "),
        ("load_songplays", " rows selected"),
        ("run_quality_checks", "checks in "),
    ]:
        log = af.api("GET", f"dags/sparkify_etl/dagRuns/rest_api_test/taskInstances/{task}/logs/1")
        text = json.dumps(log)
        assert phrase in text, (task, text[:2000])


def test_the_stack_listens_on_loopback_only_and_serves_task_logs_there(airflow):
    """Airflow's own task log servers bind every interface; the stack runs its log-server app on 127.0.0.1."""
    import urllib.error
    import urllib.request

    af, _ = airflow
    listening = af.listening()
    assert {(c, port) for c, _, port in listening} >= {("api-server", PORT), ("log-server", PORT + 1)}, listening
    assert {ip for _, ip, _ in listening} == {"127.0.0.1"}, listening
    # The log server is Airflow's own app: it refuses an unsigned request for a log.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{PORT + 1}/log/dag_id=sparkify_etl/x.log", timeout=10)
    assert refused.value.code == 403
    # Tasks report the host name where the api-server finds that server.
    tis = af.api("GET", "dags/sparkify_etl/dagRuns/rest_api_test/taskInstances")["task_instances"]
    hosts = {ti["task_id"]: ti["hostname"] for ti in tis}  # an EmptyOperator never reaches a worker: no host
    assert hosts["stage_events"] == "127.0.0.1"
    assert set(hosts.values()) <= {"127.0.0.1", ""}, hosts


def test_the_scheduler_holds_the_task_modules_before_it_forks_tasks(airflow):
    """LocalExecutor forks every task from the scheduler's workers; the plugin (loaded by the scheduler for the
    timetables) imports what tasks run on, so no task imports Arrow, pgpq or psycopg itself."""
    from tools import processes

    af, _ = airflow
    maps = (Path("/proc") / str(processes.read_pid(af.pidfile("scheduler"))) / "maps").read_text()
    for library in ("libarrow", "pgpq", "psycopg_binary/"):  # psycopg 3; the metadata DB uses psycopg2
        assert library in maps, library


def analytics_runs(af) -> list[dict]:
    return af.api("GET", "dags/sparkify_analytics/dagRuns?limit=100&order_by=run_after")["dag_runs"]


def queued_analytics_events(af) -> list[dict]:
    """Asset events the scheduler has queued for sparkify_analytics but not yet turned into a run."""
    return af.api("GET", "dags/sparkify_analytics/assets/queuedEvents")["queued_events"]


def asset_events(af, run_id: str, since: str | None = None) -> list[dict]:
    """The asset events sparkify_etl's run ``run_id`` emitted (after ``since``, an ISO timestamp)."""
    since_filter = f"&timestamp_gte={urllib.parse.quote(since)}" if since else ""
    path = f"assets/events?source_dag_id=sparkify_etl&source_run_id={run_id}&limit=100{since_filter}"
    return af.api("GET", path)["asset_events"]


def wait_for_analytics(af, at_least: int, timeout: float = 180) -> list[dict]:
    """The analytics DAG's runs once at least ``at_least`` exist, all finished, and no asset event is queued for
    it (so no further run is coming from what the ETL runs emitted so far)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = analytics_runs(af)
        finished = all(r["state"] in ("success", "failed") for r in runs)
        if len(runs) >= at_least and finished and not queued_analytics_events(af):
            return runs
        time.sleep(2)
    raise AssertionError(f"sparkify_analytics: {len(analytics_runs(af))} runs, wanted {at_least} finished")


def test_the_analytics_dag_follows_the_etl_runs_that_change_the_tables(airflow, generated_bucket):
    """After rest_api_test (which loaded an hour) the analytics DAG ran on asset events; a rerun that changes
    nothing emits none and starts no analytics run."""
    from tools.seed import s3_client

    af, _ = airflow
    runs = wait_for_analytics(af, at_least=1)
    assert {r["state"] for r in runs} == {"success"}
    assert {r["run_type"] for r in runs} == {"asset_triggered"}
    first = runs[0]["dag_run_id"]
    log = json.dumps(af.api("GET", f"dags/sparkify_analytics/dagRuns/{first}/taskInstances/publish_report/logs/1"))
    assert "triggered by sparkify_etl/rest_api_test" in log, log[:3000]
    page = s3_client().get_object(Bucket=work_bucket_for(generated_bucket), Key="reports/latest.html")["Body"].read()
    assert b"sparkify_etl/rest_api_test" in page

    # Rerun the hour: the tables are right already, so no writer emits an event and no analytics run starts.
    before = af.api("GET", "dags/sparkify_etl/dagRuns/rest_api_test")
    af.api(
        "POST",
        "dags/sparkify_etl/clearTaskInstances",
        {"dry_run": False, "dag_run_id": "rest_api_test", "only_failed": False, "reset_dag_runs": True},
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = af.api("GET", "dags/sparkify_etl/dagRuns/rest_api_test")
        if run["state"] in ("success", "failed") and run["end_date"] != before["end_date"]:
            break
        time.sleep(2)
    assert run["state"] == "success"
    log = json.dumps(af.api("GET", "dags/sparkify_etl/dagRuns/rest_api_test/taskInstances/load_songplays/logs/2"))
    assert "asset sparkify.public.songplays: no event (no rows changed)" in log, log[:3000]
    rerun_events = {e["name"] for e in asset_events(af, "rest_api_test", since=before["end_date"])}
    assert rerun_events == {"sparkify.public.quality_results"}  # each check stores its result; no table changed
    assert queued_analytics_events(af) == []
    assert len(analytics_runs(af)) == len(runs)


def test_an_hour_whose_blocking_check_fails_is_held_back_alerted_and_starts_no_analytics_run(airflow, alerts):
    """Under the scheduler: a user with level 'gold' fails accepted_values (error) — the run is red, one alert says
    so by mail and on Slack with what was observed, the gate records the hour as held back with the check, and
    sparkify_analytics does not run."""
    af, wh = airflow
    _, _, mails, posts = alerts
    before = len(wait_for_analytics(af, at_least=1))
    wh.execute("INSERT INTO users (user_id, level, last_seen_at) VALUES ('bad-gold', 'gold', '2018-11-01')")
    try:
        af.api(
            "POST",
            "dags/sparkify_etl/dagRuns",
            {"dag_run_id": "held_back_test", "logical_date": "2018-11-15T20:00:00Z"},
        )
        run = wait_for(af, "held_back_test")
        states = {
            ti["task_id"]: ti["state"]
            for ti in af.api("GET", "dags/sparkify_etl/dagRuns/held_back_test/taskInstances")["task_instances"]
        }
    finally:
        wh.execute("DELETE FROM users WHERE user_id = 'bad-gold'")
    assert run["state"] == "failed"
    assert (states["run_quality_checks"], states["publish"], states["end"]) == ("failed", "success", "upstream_failed")
    ((status, failed),) = wh.query(
        "SELECT status, failed_checks FROM publications WHERE interval_start = '2018-11-15 20:00'"
    )
    assert status == "held_back"
    assert "accepted_values: users.level" in failed
    subject = (
        "[sparkify] sparkify_etl [2018-11-15 20:00, 2018-11-15 21:00) UTC: run_quality_checks — "
        "1 quality check(s) failed"
    )
    ((recipients, message),) = [(to, m) for to, m in mails if m["Subject"] == subject]
    assert (recipients, message["From"]) == (["data-eng@sparkify.test"], "airflow@sparkify.test")
    body = message.get_body(("html",)).get_content()
    assert "<td>accepted_values: users.level in {free, paid}</td><td>1</td><td>== 0</td>" in body
    assert "QualityChecksFailedError" in body
    assert f"href='{af.url}/dags/sparkify_etl/runs/held_back_test/tasks/run_quality_checks" in body
    (slack,) = [p["json"] for p in posts if p["json"]["text"] == subject]  # the same alert, as Slack blocks
    assert "`accepted_values: users.level in {free, paid}` — observed *1*, expected *== 0*" in json.dumps(
        slack["blocks"], ensure_ascii=False
    )
    published = [e for e in asset_events(af, "held_back_test") if e["name"].endswith(".publications")]
    assert published == []  # a task emits its events as it finishes: the gate emitted none
    assert queued_analytics_events(af) == []
    assert len(analytics_runs(af)) == before
    af.api("PATCH", "dags/sparkify_analytics", {"is_paused": True})  # the tests below do not follow it


def test_the_deadline_watch_alerts_on_a_held_back_hour_and_one_whose_run_is_still_queued(airflow, alerts):
    """sparkify_deadlines under the scheduler, on the ledger the tests above left: [20:00, 21:00) is held back, and
    [19:00, 20:00) has a run of sparkify_etl that stays queued (the DAG paused) — which the watch learns from
    Airflow through the Task SDK."""
    af, _ = airflow
    af.api("PATCH", "dags/sparkify_etl", {"is_paused": True})
    try:
        af.api(
            "POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "queued_hour", "logical_date": "2018-11-15T19:00:00Z"}
        )
        af.api("PATCH", "dags/sparkify_deadlines", {"is_paused": False})
        for run_id, window in (("watch_queued", "2018-11-15T23:00:00Z"), ("watch_held", "2018-11-16T00:00:00Z")):
            af.api("POST", "dags/sparkify_deadlines/dagRuns", {"dag_run_id": run_id, "logical_date": window})
        runs = wait_for_runs(af, [("sparkify_deadlines", "watch_queued"), ("sparkify_deadlines", "watch_held")])
        # Unpausing also scheduled the latest quarter hour: let it end too, so no task of it outlives this test.
        every = af.api("GET", "dags/sparkify_deadlines/dagRuns?limit=100")["dag_runs"]
        wait_for_runs(af, [("sparkify_deadlines", r["dag_run_id"]) for r in every])
        logs = {
            run_id: json.dumps(
                af.api("GET", f"dags/sparkify_deadlines/dagRuns/{run_id}/taskInstances/check_deadlines/logs/1")
            )
            for _, run_id in runs
        }
    finally:
        af.api("PATCH", "dags/sparkify_deadlines", {"is_paused": True})
        af.api("DELETE", "dags/sparkify_etl/dagRuns/queued_hour")
        af.api("PATCH", "dags/sparkify_etl", {"is_paused": False})
    assert {r["state"] for r in runs.values()} == {"success"}  # the watch reports lateness; it is not late itself
    assert "sparkify_etl [2018-11-15 19:00, 2018-11-15 20:00) UTC: not published, " in logs["watch_queued"]
    assert "past its deadline (still_running)" in logs["watch_queued"]
    assert "sparkify_etl [2018-11-15 20:00, 2018-11-15 21:00) UTC: not published, " in logs["watch_held"]
    assert "past its deadline (held_back)" in logs["watch_held"]
    assert "1 judged" in logs["watch_held"]
    _, _, mails, posts = alerts
    late = "[sparkify] sparkify_etl [2018-11-15 {}:00, 2018-11-15 {}:00) UTC: not published, "
    for hour in (19, 20):  # each late hour alerted once, by mail and on Slack
        assert len([m for _, m in mails if m["Subject"].startswith(late.format(hour, hour + 1))]) == 1
        assert len([p for p in posts if p["json"]["text"].startswith(late.format(hour, hour + 1))]) == 1


def task_instance(af, dag_id: str, run_id: str, task_id: str) -> dict:
    return af.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")


def test_an_hour_waits_for_its_late_file_in_the_triggerer_and_loads_when_it_lands(airflow, generated_data):
    """Two hours of a day whose log file is not there yet: each waits deferred — in the triggerer, no worker slot
    taken. The file lands for one: that hour loads. The other's never does (judged at the end of the module, when
    its SPARKIFY_INPUT_WAIT is long over)."""
    from tools.seed import s3_client

    af, wh = airflow
    bucket = af.extra_env["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"]
    late_key = "log_data/2018/12/2018-12-01-events.json"  # a day no other test reads
    never = "2018-12-02T05:00:00Z"
    af.api("POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "late_never", "logical_date": never})
    plays = plays_per_hour(generated_data)
    busiest = max((h for h in plays if h.startswith("2018-11-16")), key=plays.get)  # 2018-12-01's, once shifted
    hour = f"2018-12-01T{busiest[-2:]}"
    af.api("POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "late_file", "logical_date": f"{hour}:00:00Z"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = [task_instance(af, "sparkify_etl", r, "wait_for_events") for r in ("late_file", "late_never")]
            if all(ti["state"] == "deferred" and ti["triggerer_job"] for ti in waiting):  # picked up by the triggerer
                break
            time.sleep(1)
        assert [ti["state"] for ti in waiting] == ["deferred", "deferred"], waiting
        assert all(ti["trigger"] and ti["triggerer_job"] for ti in waiting)  # held by the triggerer
        default_pool = af.api("GET", "pools/default_pool")  # deferred waits hold no slot of it
        assert (default_pool["include_deferred"], default_pool["deferred_slots"] >= 2) == (False, True), default_pool
        running = af.api("GET", "dags/~/dagRuns/~/taskInstances?state=running&pool=default_pool")["task_instances"]
        assert [ti for ti in running if ti["dag_run_id"] in ("late_file", "late_never")] == []  # nor a worker
        assert task_instance(af, "sparkify_etl", "late_file", "stage_events")["state"] in (None, "none", "scheduled")
        # The file lands once the scheduler has seen the deferring process end: landing sooner races Airflow 3.3's
        # handling of that process's exit, which sends the resumed wait to a retry (apache/airflow#72716).
        seen = re.compile(
            r"TaskInstance Finished: dag_id=sparkify_etl, task_id=wait_for_events, run_id=late_file, .*state=deferred"
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not seen.search((af.home / "logs" / "scheduler.log").read_text()):
            time.sleep(1)

        shifted = [  # 2018-11-16's events as 2018-12-01's: the file that arrives late
            json.dumps({**e, "ts": e["ts"] + 15 * 86_400_000})
            for e in map(
                json.loads, (generated_data / "log_data/2018/11/2018-11-16-events.json").read_text().splitlines()
            )
        ]
        s3_client().put_object(Bucket=bucket, Key=late_key, Body="\n".join(shifted).encode())
        run = wait_for(af, "late_file")
        assert run["state"] == "success"
        loaded = wh.scalar(
            "SELECT COUNT(*) FROM songplays WHERE start_time >= %(h)s AND start_time < %(h)s::timestamp + '1h'",
            {"h": hour.replace("T", " ") + ":00"},
        )
        assert loaded == plays[busiest] > 0

    finally:
        s3_client().delete_object(Bucket=bucket, Key=late_key)  # a day no other test reads, gone again


def test_a_cli_backfill_completes_every_hour(airflow, generated_data):
    af, wh = airflow
    env = af.env()
    out = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "airflow"),
            "backfill",
            "create",
            "--dag-id",
            "sparkify_etl",
            "--from-date",
            "2018-11-16T10:00:00+00:00",
            "--to-date",
            "2018-11-16T11:00:00+00:00",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        runs = af.api("GET", "dags/sparkify_etl/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        if runs and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(3)
    hours = sorted(r["logical_date"] for r in runs)
    assert hours == ["2018-11-16T10:00:00Z", "2018-11-16T11:00:00Z"]
    assert {r["state"] for r in runs} == {"success"}
    plays = plays_per_hour(generated_data)
    for r in runs:
        start = r["logical_date"][:13]
        loaded = wh.scalar(
            "SELECT COUNT(*) FROM songplays WHERE start_time >= %s AND start_time < %s",
            (datetime.fromisoformat(start), datetime.fromisoformat(start) + timedelta(hours=1)),
        )
        assert loaded == plays.get(start, 0)
    assert os.path.exists(af.home / "logs")


def test_a_run_triggered_from_the_web_ui_succeeds(airflow):
    """Headless Debian chromium: sign in, open the DAG page, trigger 2018-11-16T14:00 from the UI, see Success."""
    from playwright.sync_api import expect

    from tests.browser import chromium

    af, _ = airflow
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{af.url}/dags/sparkify_etl")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(af.password())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dags/sparkify_etl**")
        expect(page.get_by_text("stage_events").first).to_be_visible()

        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        page.get_by_test_id("datetime-input").click()  # the logical date defaults to now: set the hour
        page.get_by_placeholder("YYYY/MM/DD").fill("2018/11/16")
        page.get_by_placeholder("YYYY/MM/DD").press("Tab")
        page.get_by_placeholder("HH:mm").fill("14:00")
        page.get_by_placeholder("HH:mm").press("Tab")
        dialog.get_by_text("Logical Date", exact=True).click()
        expect(page.get_by_test_id("datetime-input")).to_have_text("Nov 16, 2018 14:00")
        dialog.get_by_role("button", name="Trigger").click()

        page.wait_for_url("**/dags/sparkify_etl/runs/**")
        run_id = page.url.rsplit("/runs/", 1)[1].split("?")[0]
        expect(page.get_by_text("2018-11-16 14:00:00").first).to_be_visible()
        run_state = page.get_by_test_id("header-card").get_by_test_id("state-badge")
        expect(run_state).to_have_text("Success", timeout=240_000)
        page.screenshot(path=str(af.home / "ui-run-success.png"))

    from urllib.parse import unquote

    run = af.api("GET", f"dags/sparkify_etl/dagRuns/{unquote(run_id)}")
    assert run["state"] == "success"
    assert run["data_interval_start"] == "2018-11-16T14:00:00Z"


def wait_for_runs(af, runs: list[tuple[str, str]], timeout: float = 400) -> dict[tuple[str, str], dict]:
    """(dag_id, run_id) → the run, once every one of them has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = {(d, r): af.api("GET", f"dags/{d}/dagRuns/{r}") for d, r in runs}
        if all(run["state"] in ("success", "failed") for run in got.values()):
            return got
        time.sleep(3)
    raise AssertionError(f"runs not finished in {timeout:.0f} s: {runs}")


def test_hourly_and_daily_runs_of_the_same_day_at_once_write_one_at_a_time_and_equal_a_clean_load(
    airflow, generated_bucket, new_warehouse
):
    """sparkify_etl_daily's 2018-11-14 and one of sparkify_etl's hours of it, triggered together: every writer
    takes the one slot of the writer pool, so no two writers of any run overlap, and the day's rows equal a load
    of the day alone."""
    from sparkify.operating import WRITER_POOL

    af, wh = airflow
    assert af.api("GET", f"pools/{WRITER_POOL}")["slots"] == 1  # set by the stack's start
    af.api("PATCH", "dags/sparkify_etl_daily", {"is_paused": False})
    runs = [
        ("sparkify_etl_daily", "same_day_daily", "2018-11-14T00:00:00Z"),
        ("sparkify_etl", "same_day_hour", "2018-11-14T10:00:00Z"),
    ]
    for dag_id, run_id, logical_date in runs:
        af.api("POST", f"dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": logical_date})
    try:
        finished = wait_for_runs(af, [(d, r) for d, r, _ in runs])
    finally:
        af.api("PATCH", "dags/sparkify_etl_daily", {"is_paused": True})  # its scheduled runs are not this test's
    assert {run["state"] for run in finished.values()} == {"success"}, finished

    spans = sorted(
        (ti["start_date"], ti["end_date"], d, ti["task_id"], ti["pool"])
        for d, r, _ in runs
        for ti in af.api("GET", f"dags/{d}/dagRuns/{r}/taskInstances")["task_instances"]
        if ti["task_id"] not in ("end", "wait_for_events")  # never on a worker; a sensor is not a writer
    )
    assert {pool for *_, pool in spans} == {WRITER_POOL}
    assert len(spans) == 2 * 10
    for earlier, later in itertools.pairwise(spans):
        assert earlier[1] <= later[0], (earlier, later)  # one writer at a time, across both DAGs

    spec = importlib.util.spec_from_file_location("etl_daily", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    clean = new_warehouse("same_day_clean")
    with clean.as_redshift_connection():
        run_tasks(module.daily_dag, utc(2018, 11, 14), utc(2018, 11, 15), generated_bucket)
    day = "WHERE start_time >= '2018-11-14' AND start_time < '2018-11-15'"
    for table in ("songplays", "time"):
        rows = [sorted(w.query(f'SELECT * FROM "{table}" {day}'), key=repr) for w in (wh, clean)]
        assert rows[0] == rows[1], table
        assert len(rows[1]) > 0
    assert wh.snapshot(("songs", "artists")) == clean.snapshot(("songs", "artists"))


def test_an_hour_whose_file_never_lands_fails_naming_it_and_how_long_it_waited(airflow):
    """late_never, triggered above: after SPARKIFY_INPUT_WAIT its sensor failed, once, with the object's location."""
    af, _ = airflow
    bucket = af.extra_env["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"]
    given_up = wait_for(af, "late_never", timeout=INPUT_WAIT + 120)
    assert given_up["state"] == "failed"
    sensor = task_instance(af, "sparkify_etl", "late_never", "wait_for_events")
    assert (sensor["state"], sensor["try_number"]) == ("failed", 1)  # a sensor's timeout is not retried
    log = json.dumps(af.api("GET", "dags/sparkify_etl/dagRuns/late_never/taskInstances/wait_for_events/logs/1"))
    message = re.search(r"s3://[^ ]+-events.json did not arrive: waited (\d+)h(\d\d)m(\d\d)s", log)
    assert message, log[-3000:]
    assert f"s3://{bucket}/log_data/2018/12/2018-12-02-events.json" in message.group(0)
    waited = int(message.group(1)) * 3600 + int(message.group(2)) * 60 + int(message.group(3))
    assert INPUT_WAIT <= waited < INPUT_WAIT + 60
    assert "limit 0h01m00s, SPARKIFY_INPUT_WAIT" in log


# ------------------------------------------------------------------------------------------------------------------
# The same DAG on CeleryExecutor
# ------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redis():
    """A Redis broker on loopback; one left behind by an interrupted run is stopped first (and by make down)."""
    from tools import processes, stack

    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server is missing: `make test` installs it (apt-get install redis-server)")
    pidfile = stack.TEST_REDIS_PIDFILE  # where make down looks for it too
    folder = pidfile.parent
    folder.mkdir(parents=True, exist_ok=True)
    processes.stop_pidfile(pidfile, "a leftover test Redis")
    processes.require_free_port(REDIS_TEST_PORT, "the test Redis", "REDIS_TEST_PORT in tests/conftest.py")
    subprocess.run(
        [
            server,
            "--port",
            str(REDIS_TEST_PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(folder / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{REDIS_TEST_PORT}/0"
    finally:
        processes.stop_pidfile(pidfile, "the test Redis")


@pytest.fixture(scope="module")
def celery_airflow(airflow, redis):
    """The same installation with its scheduler on CeleryExecutor and a separate ``airflow celery worker``.

    The metadata DB, api-server, dag-processor and triggerer stay (none of them runs tasks); the scheduler is
    restarted with CeleryExecutor, as a deployment switching executors would do. Runs after the other tests.
    """
    from tools import postgres_server

    af, wh = airflow
    af.down(only=("scheduler",))
    result_backend = f"db+postgresql://{postgres_server.USER}:{postgres_server.PASSWORD}@{postgres_server.HOST}:{postgres_server.PORT}/{af.metadata_db}"
    celery = replace(
        af,
        executor="CeleryExecutor",
        components=("scheduler", "celery worker"),
        extra_env={
            **af.extra_env,
            "AIRFLOW__CELERY__BROKER_URL": redis,
            "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        },
    )
    celery.up()  # the module's fixture stops everything in the home at the end, the worker included
    return celery, wh


def test_a_run_succeeds_on_a_separate_celery_worker(celery_airflow, generated_data):
    af, wh = celery_airflow
    af.api("POST", "dags/sparkify_etl/dagRuns", {"dag_run_id": "celery_run", "logical_date": "2018-11-15T18:00:00Z"})
    run = wait_for(af, "celery_run")
    assert run["state"] == "success"
    loaded = wh.scalar(
        "SELECT COUNT(*) FROM songplays WHERE start_time >= '2018-11-15 18:00' AND start_time < '2018-11-15 19:00'"
    )
    assert loaded == plays_per_hour(generated_data)["2018-11-15T18"] > 0
    worker_log = (af.home / "logs" / "celery-worker.log").read_text()
    for task in ("stage_events", "load_songplays", "run_quality_checks"):
        assert task in worker_log  # executed by the worker process, not the scheduler
    tis = af.api("GET", "dags/sparkify_etl/dagRuns/celery_run/taskInstances")["task_instances"]
    assert {ti["state"] for ti in tis} == {"success"}
    assert len(tis) == 12
    assert {ip for _, ip, _ in af.listening()} == {"127.0.0.1"}  # the worker's log server is not started
