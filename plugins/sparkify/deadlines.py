"""Deadlines: an hour that is not published to the analysts within a set time after it ends raises an alert.

What counts is the publication ledger (:mod:`sparkify.publication`): an hour is on time when a published interval
covers it — its own, or its day's from ``sparkify_etl_daily`` — when it is judged, just after its deadline (the
hour's end plus ``SPARKIFY_DEADLINE``). Airflow 3.3's Deadline Alerts do not carry this: they are experimental,
a DAG with one makes ``airflow dags test`` fail after a successful run (apache/airflow#73428), and they judge runs,
so an hour whose run never started (a paused DAG, a stopped scheduler) misses nothing.

The watch DAG's run for the window ``[w0, w1)`` judges the hours whose deadline fell inside it (:func:`hours_due`),
so each hour is judged once, soon after its deadline. Hours before the first published interval are not judged:
a new deployment has nothing to be late with yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sparkify.alerts import Alert, interval_text
from sparkify.engines import Engine
from sparkify.publication import HELD_BACK, PUBLISHED
from sparkify.sql import read_sql

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LateHour:
    """An hour that was not published by its deadline, and what the ledger and Airflow say of it."""

    start: datetime
    end: datetime
    due: datetime
    late_by: timedelta
    reason: str  # held_back | still_running | run_failed | no_run | not_checked
    verdict_run: str | None = None  # "dag_id/run_id" of the verdict that held it back
    failed_checks: list[dict[str, Any]] = field(default_factory=list)


REASONS = {
    "held_back": "held back: its blocking quality checks failed",
    "still_running": "not checked yet: its run is still queued or running",
    "run_failed": "not checked: its run failed before the quality gate",
    "no_run": "not checked: there is no run for it (a paused DAG, or a scheduler that was down?)",
    "not_checked": "not checked: its run succeeded without a verdict on the hour",
}


def hours_due(window_start: datetime, window_end: datetime, deadline: timedelta) -> list[tuple[datetime, datetime]]:
    """The hours ``[h, h+1)`` whose deadline ``h + 1h + deadline`` falls in ``[window_start, window_end)``."""
    first_end = (window_start - deadline).replace(minute=0, second=0, microsecond=0)
    if first_end < window_start - deadline:
        first_end += HOUR
    hours = []
    end = first_end
    while end + deadline < window_end:
        hours.append((end - HOUR, end))
        end += HOUR
    return hours


def judge(
    engine: Engine,
    hours: list[tuple[datetime, datetime]],
    deadline: timedelta,
    now: datetime,
    run_state: Callable[[datetime], str | None],
) -> tuple[list[LateHour], datetime | None]:
    """The hours of ``hours`` not covered by a published interval, and the first published interval's start
    (hours before it are not judged). ``run_state(hour_start)``: the state of the watched DAG's run for the hour
    (``None``: no run), asked only of hours the ledger has no verdict on."""
    verdicts = {}
    with engine.transaction() as cur:
        cur.execute(read_sql("publication/ledger_exists.sql"))
        if not cur.fetchone()[0]:
            return [], None
        cur.execute(read_sql("publication/published_period.sql"))
        first_published = cur.fetchone()[0]
        for start, end in hours:
            if first_published is None or start < first_published:
                continue
            cur.execute(
                read_sql("publication/verdicts_overlapping.sql"),
                {"data_interval_start": start, "data_interval_end": end},
            )
            verdicts[(start, end)] = cur.fetchall()
    late = []
    for (start, end), rows in verdicts.items():
        if any(status == PUBLISHED and s <= start and e >= end for s, e, status, *_ in rows):
            continue
        due = end + deadline
        held = [r for r in rows if r[2] == HELD_BACK]
        if held:
            _, _, _, dag_id, run_id, failed = held[0]
            late.append(
                LateHour(start, end, due, now - due, "held_back", f"{dag_id}/{run_id}", json.loads(failed or "[]"))
            )
            continue
        state = run_state(start)
        reason = {None: "no_run", "queued": "still_running", "running": "still_running", "failed": "run_failed"}
        late.append(LateHour(start, end, due, now - due, reason.get(state, "not_checked")))
    return late, first_published


def alert(hour: LateHour, dag_id: str, deadline: timedelta) -> Alert:
    """What the channels say of one late hour: the DAG, the interval, how late, and why."""
    interval = interval_text(hour.start, hour.end)
    late = hours_minutes(hour.late_by)
    facts = [
        ("DAG", dag_id),
        ("interval", interval),
        ("deadline", f"{hour.due:%Y-%m-%d %H:%M} UTC ({hours_minutes(deadline)} after the interval's end)"),
        ("late by", late),
        ("why", REASONS[hour.reason]),
    ]
    if hour.verdict_run:
        facts.append(("held back by", hour.verdict_run))
    return Alert(
        subject=f"[sparkify] {dag_id} {interval}: not published, {late} past its deadline",
        facts=facts,
        failed_checks=hour.failed_checks,
    )


def hours_minutes(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"
