"""Which hours a watch window judges, and what a late hour's alert says (no warehouse: sparkify.deadlines)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sparkify.deadlines import LateHour, alert, hours_due, hours_minutes


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2018, 11, day, hour, minute)


def test_a_window_judges_the_hour_whose_deadline_fell_in_it():
    assert hours_due(at(15, 20), at(15, 20, 15), timedelta(hours=3)) == [(at(15, 16), at(15, 17))]
    assert hours_due(at(15, 20, 15), at(15, 20, 30), timedelta(hours=3)) == []
    assert hours_due(at(15, 18, 30), at(15, 18, 45), timedelta(minutes=90)) == [(at(15, 16), at(15, 17))]


@pytest.mark.parametrize("deadline", [timedelta(hours=3), timedelta(minutes=90), timedelta(minutes=7)])
def test_quarter_hour_windows_judge_every_hour_exactly_once(deadline):
    windows = [(at(15, 0) + timedelta(minutes=15 * i), at(15, 0) + timedelta(minutes=15 * (i + 1))) for i in range(96)]
    judged = [h for w in windows for h in hours_due(*w, deadline)]
    assert len(judged) == len(set(judged)) == 24
    assert all(end - start == timedelta(hours=1) and start.minute == 0 for start, end in judged)


def test_a_held_back_hour_is_alerted_with_its_interval_how_late_and_its_checks():
    failed = [{"check": "accepted_values: users.level", "observed": "1", "expected": "0"}]
    late = LateHour(at(15, 16), at(15, 17), at(15, 20), timedelta(minutes=9), "held_back", "sparkify_etl/r1", failed)
    a = alert(late, "sparkify_etl", timedelta(hours=3))
    assert a.subject == (
        "[sparkify] sparkify_etl [2018-11-15 16:00, 2018-11-15 17:00) UTC: not published, 0h09m past its deadline"
    )
    assert dict(a.facts)["deadline"] == "2018-11-15 20:00 UTC (3h00m after the interval's end)"
    assert dict(a.facts)["why"] == "held back: its blocking quality checks failed"
    assert dict(a.facts)["held back by"] == "sparkify_etl/r1"
    assert a.failed_checks == failed
    assert "accepted_values: users.level" in a.html()


def test_durations_read_as_hours_and_minutes():
    assert [hours_minutes(timedelta(seconds=s)) for s in (0, 59, 61, 3 * 3600 + 5 * 60, -30)] == [
        "0h00m",
        "0h00m",
        "0h01m",
        "3h05m",
        "0h00m",
    ]
