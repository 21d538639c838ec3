"""Running declared checks against the warehouse, and their results: stored in ``quality_results``, formatted for
the task log (what ``DataQualityOperator`` runs; the checks themselves are data, :mod:`sparkify.quality`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sparkify.engines import Engine
from sparkify.quality import Check
from sparkify.sql import insert_values

RESULTS_TABLE = "quality_results"
RESULT_COLUMNS = ["run_id", "logical_date", "check_name", "severity", "status", "observed", "expected", "checked_at"]
FAILED = ("fail", "error")  # statuses of an error-severity check that did not pass (or whose query failed)


def run_checks(
    engine: Engine,
    checks: Sequence[Check],
    bound: dict[str, Any],
    *,
    store: tuple[str, datetime | None, datetime] | None = None,
) -> list[dict[str, Any]]:
    """Run every check on one connection, each in a transaction of its own, so a broken query cannot hide the
    others; with ``store`` = (run id, logical date, checked at), write the results to ``quality_results``."""
    with engine.connect() as conn:
        results = [run_check(engine, conn, check, bound) for check in checks]
        if store is not None:
            run, logical, now = store
            rows = [
                (run, logical, r["check"], r["severity"], r["status"], str(r["observed"]), r["expected"], now)
                for r in results
            ]
            with engine.transaction(conn) as cur:
                cur.execute(*insert_values(RESULTS_TABLE, RESULT_COLUMNS, rows))
    return results


def run_check(engine: Engine, conn: Any, check: Check, bound: dict[str, Any]) -> dict[str, Any]:
    """One check's result: status ``pass``, ``fail``/``warn`` (by severity), or ``error``/``warn`` if it broke."""
    result = {"check": check.name, "severity": check.severity, "status": "", "observed": None}
    result["expected"] = check.expectation
    try:
        with engine.transaction(conn) as cur:
            cur.execute(check.sql, {**bound, **check.params})
            row = cur.fetchone()
        result["observed"] = row[0] if row else None
        passed = check.passes(result["observed"])
        if result["observed"] is None and passed:
            result["observed"] = f"none: {check.null_passes}"
        result["status"] = "pass" if passed else ("fail" if check.severity == "error" else "warn")
    except Exception as exc:  # a broken check is a failed check, reported with the rest
        result["status"] = "error" if check.severity == "error" else "warn"
        result["observed"] = f"query failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
    return result


def describe(results: list[dict[str, Any]]) -> str:
    """``check (observed …, expected …)`` for each result, joined: what a failure message names."""
    return "; ".join(f"{r['check']} (observed {r['observed']}, expected {r['expected']})" for r in results)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of dicts with the same keys (for task logs)."""
    if not rows:
        return "(no rows)"
    headers = list(rows[0])
    cells = [[str(r[h]) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(out)
