"""The deployment's settings: durations as people write them, and refusals that name the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sparkify.operating import SettingError, deadline, duration, input_wait, task_timeout, writer_pool_slots


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("45m", timedelta(minutes=45)),
        (" 2h ", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_durations(text, expected):
    assert duration(text, "X") == expected


@pytest.mark.parametrize("text", ["", "20", "0m", "-5m", "2 days", "1d"])
def test_a_duration_that_is_not_one_is_refused_with_its_name(text):
    with pytest.raises(SettingError, match=r"^X='.*': expected a positive duration such as 90s, 45m or 2h$"):
        duration(text, "X")


def test_defaults_and_overrides(monkeypatch):
    assert task_timeout("stage_songs") == timedelta(hours=1)
    assert input_wait() == timedelta(hours=2)
    monkeypatch.setenv("SPARKIFY_TIMEOUT_STAGE_SONGS", "2h")
    monkeypatch.setenv("SPARKIFY_INPUT_WAIT", "30m")
    assert (task_timeout("stage_songs"), input_wait()) == (timedelta(hours=2), timedelta(minutes=30))
    assert deadline() == timedelta(hours=3)
    monkeypatch.setenv("SPARKIFY_DEADLINE", "90m")
    assert deadline() == timedelta(minutes=90)


def test_the_writer_pool_has_at_least_one_slot(monkeypatch):
    assert writer_pool_slots() == 1
    monkeypatch.setenv("SPARKIFY_WRITER_POOL_SLOTS", "3")
    assert writer_pool_slots() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("SPARKIFY_WRITER_POOL_SLOTS", bad)
        with pytest.raises(SettingError, match="SPARKIFY_WRITER_POOL_SLOTS"):
            writer_pool_slots()
