"""How the DAGs behave as a production deployment: time limits, the wait for late input, the writer pool, deadlines.

Every setting has a default and an environment variable that overrides it. The variables are read when a DAG file
is parsed (no I/O), so set them for every Airflow process alike — scheduler, dag-processor, workers and triggerer
each parse the files. Durations are written ``90s``, ``45m`` or ``2h``; a malformed value fails the DAG's import
with the variable's name.

The task budgets are large multiples of what the benchmark measures on the embedded default (``bench/results.md``):
production staging is Redshift ``COPY``, whose time depends on the cluster's load as much as on the data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta

# What each task may take before Airflow stops it (its transaction rolls back; a retry starts clean).
TASK_TIMEOUTS = {
    "begin": "10m",
    "stage_events": "30m",  # one day's log file
    "stage_songs": "1h",  # the whole catalogue on a full reload; new or changed objects otherwise
    "load_songplays": "20m",
    "load_users": "20m",
    "load_songs": "20m",
    "load_artists": "20m",
    "load_time": "20m",
    "run_quality_checks": "20m",
    "publish": "10m",
    "build_analytics_tables": "30m",
    "publish_report": "10m",
    "check_deadlines": "5m",
}
RUN_TIMEOUT = "4h"  # a whole run, the wait for late input included
INPUT_WAIT = "2h"  # how long an interval waits for its day's log file before it fails
INPUT_POKE = "1m"  # how often the triggerer looks for it meanwhile
DEADLINE = "3h"  # how long after an hour's end it must be published to the analysts (sparkify.deadlines)

# Every task that writes the warehouse, in every DAG, takes a slot of this pool. One slot (the default) means one
# writer at a time across the hourly, daily and analytics DAGs: runs of the same day never overlap on a table.
WRITER_POOL = "sparkify_warehouse_writers"
WRITER_POOL_SLOTS = 1
WRITER_POOL_DESCRIPTION = "Every task that writes the Sparkify warehouse, in every DAG (sparkify.operating)"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours"}


class SettingError(ValueError):
    """An environment variable of this module holds a value it cannot use."""


def duration(text: str, name: str) -> timedelta:
    """``90s`` / ``45m`` / ``2h`` as a timedelta; anything else names the setting and what it expected."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise SettingError(f"{name}={text!r}: expected a positive duration such as 90s, 45m or 2h")
    return timedelta(**{_UNIT[match.group(2)]: float(match.group(1))})


def setting(name: str, default: str) -> timedelta:
    """The duration in the environment variable ``name``, else ``default``."""
    return duration(os.environ.get(name, default), name)


def task_timeout(task_id: str) -> timedelta:
    """``execution_timeout`` of a task: ``SPARKIFY_TIMEOUT_<TASK_ID>`` (e.g. ``SPARKIFY_TIMEOUT_STAGE_SONGS=90m``)."""
    return setting(f"SPARKIFY_TIMEOUT_{task_id.upper()}", TASK_TIMEOUTS[task_id])


def input_wait() -> timedelta:
    """``SPARKIFY_INPUT_WAIT``: how long an interval waits for its input before it fails."""
    return setting("SPARKIFY_INPUT_WAIT", INPUT_WAIT)


def input_poke() -> timedelta:
    """``SPARKIFY_INPUT_POKE``: how often the wait looks for the input."""
    return setting("SPARKIFY_INPUT_POKE", INPUT_POKE)


def deadline() -> timedelta:
    """``SPARKIFY_DEADLINE``: how long after its end an hour must be published before the watch alerts."""
    return setting("SPARKIFY_DEADLINE", DEADLINE)


def run_timeout() -> timedelta:
    """``SPARKIFY_RUN_TIMEOUT``: a run's ``dagrun_timeout``; it must leave room for the whole input wait."""
    run, wait = setting("SPARKIFY_RUN_TIMEOUT", RUN_TIMEOUT), input_wait()
    if run <= wait:
        raise SettingError(
            f"SPARKIFY_RUN_TIMEOUT ({run}) must be longer than SPARKIFY_INPUT_WAIT ({wait}): a run that waits for "
            "its input the whole time still has to load it"
        )
    return run


def writer_pool_slots(environ: Mapping[str, str] = os.environ) -> int:
    """``SPARKIFY_WRITER_POOL_SLOTS``: the writer pool's size, set on the pool when a stack starts."""
    text = environ.get("SPARKIFY_WRITER_POOL_SLOTS", str(WRITER_POOL_SLOTS))
    if not text.strip().isdigit() or int(text) < 1:
        raise SettingError(f"SPARKIFY_WRITER_POOL_SLOTS={text!r}: expected a whole number of slots, at least 1")
    return int(text)
