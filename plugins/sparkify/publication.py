"""The publication ledger: an interval reaches the analysts only once its blocking checks passed.

The loads write the star schema in place; the analysts' layer reads it through ``published_songplays`` (the plays
of published intervals, none of an interval held back: ``include/sql/ddl/16_published_songplays.sql``), and the
report says what is published and what is held back. A ledger rather than write-audit-publish: the loads keep
their one transaction per table under its lock, a verdict costs one small write, and an interval held back is
not lost — its rows stay where they were loaded, checked, and a re-run that passes publishes them.

:func:`record_verdict` writes an interval's verdict from its quality checks (``error`` checks block; ``warn``
checks publish and are recorded); the caller decides what to tell Airflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sparkify.engines import Engine
from sparkify.runtime import utc_now
from sparkify.sql import insert_values, read_sql

TABLE = "publications"
PUBLISHED, HELD_BACK = "published", "held_back"
COLUMNS = [
    "interval_start",
    "interval_end",
    "status",
    "dag_id",
    "run_id",
    "failed_checks",
    "warned_checks",
    "checked_at",
]


@dataclass
class Verdict:
    status: str  # published | held_back
    previous: str | None  # what the ledger said of the interval before (None: never checked)
    failed: list[dict[str, Any]] = field(default_factory=list)
    warned: list[dict[str, Any]] = field(default_factory=list)

    @property
    def newly_published(self) -> bool:
        return self.status == PUBLISHED and self.previous != PUBLISHED


def blocking_failures(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The results that hold an interval back: failed or broken checks of severity ``error``."""
    return [_brief(r) for r in results if r["severity"] == "error" and r["status"] in ("fail", "error")]


def _brief(result: Mapping[str, Any]) -> dict[str, Any]:
    return {"check": result["check"], "observed": str(result["observed"]), "expected": result["expected"]}


def record_verdict(
    engine: Engine, interval: Mapping[str, Any], results: Sequence[Mapping[str, Any]], dag_id: str, run_id: str
) -> Verdict:
    """Publish the interval or hold it back, from its checks' ``results``, in one transaction under the ledger's
    lock (an hourly and a daily run of the same day take turns)."""
    failed = blocking_failures(results)
    warned = [_brief(r) for r in results if r["status"] == "warn"]
    status = HELD_BACK if failed else PUBLISHED
    with engine.transaction() as cur:
        cur.execute(engine.lock_table(TABLE))
        cur.execute(read_sql("publication/interval_status.sql"), interval)
        row = cur.fetchone()
        cur.execute(read_sql("publication/forget_interval.sql"), interval)
        row_values = (
            interval["data_interval_start"],
            interval["data_interval_end"],
            status,
            dag_id,
            run_id,
            json.dumps(failed) if failed else None,
            json.dumps(warned) if warned else None,
            utc_now(),
        )
        cur.execute(*insert_values(TABLE, COLUMNS, [row_values]))
    return Verdict(status, row[0] if row else None, failed, warned)


def held_back(engine: Engine) -> list[dict[str, Any]]:
    """Every interval held back, newest first, with its failed checks (observed vs expected) and when."""
    with engine.transaction() as cur:
        cur.execute(read_sql("publication/held_back_intervals.sql"))
        columns = [d[0] for d in cur.description]
        rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
    for r in rows:
        r["failed_checks"] = json.loads(r["failed_checks"] or "[]")
    return rows


def status(engine: Engine) -> dict[str, Any]:
    """What the analysts' data covers: ``published_from`` / ``published_to`` and the ``held_back`` intervals."""
    with engine.transaction() as cur:
        cur.execute(read_sql("publication/published_period.sql"))
        columns = [d[0] for d in cur.description]
        period = dict(zip(columns, cur.fetchone(), strict=True))
    return {**period, "held_back": held_back(engine)}
