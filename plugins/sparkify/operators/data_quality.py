"""DataQualityOperator: run declared checks, report them all, store the results, fail on error-severity ones."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import assets, engines
from sparkify.engines import Engine
from sparkify.lineage import Lineage, LineageMixin, TableUse
from sparkify.quality import Check, QualityChecksFailedError
from sparkify.runtime import InvalidArgumentError, interval_parameters, logical_date, run_id, utc_now
from sparkify.sql import insert_values

if TYPE_CHECKING:
    from airflow.sdk import Context

RESULTS_TABLE = "quality_results"
RESULT_COLUMNS = [
    "run_id",
    "logical_date",
    "check_name",
    "severity",
    "status",
    "observed",
    "expected",
    "checked_at",
]


class DataQualityOperator(LineageMixin, BaseOperator):
    """
    Run data-quality checks against the warehouse, for the run's data interval.

    Checks are data (:class:`sparkify.quality.Check`, built with the families in :mod:`sparkify.quality`),
    declared by the DAG; none are built into the operator. Every check runs, even after a failure. The task log
    shows one table of all results (check, severity, status, observed, expected); the results are also stored
    in ``quality_results`` (run id, logical date, check, severity, status, observed, expected, checked at).

    A failed ``error`` check — or one whose query fails — fails the task without retries (the data will not
    change by retrying) and the message names every failed check; a failed ``warn`` check is only reported.

    :param checks: the checks to run; their SQL gets the run's data interval and ``%(run_id)s`` bound.
    :param redshift_conn_id: the warehouse connection.
    :param store_results: write the results to ``quality_results`` (default True).
    """

    ui_color = "#89DA59"

    def __init__(
        self,
        *,
        checks: Sequence[Check],
        redshift_conn_id: str = "redshift",
        store_results: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.checks = list(checks)
        self.redshift_conn_id = redshift_conn_id
        self.store_results = store_results

        self._validate_arguments()  # refused when the DAG is parsed

    def _validate_arguments(self) -> None:
        if not self.checks:
            raise InvalidArgumentError("DataQualityOperator was given no checks")
        names = [c.name for c in self.checks]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"duplicate check names: {sorted({n for n in names if names.count(n) > 1})}")

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self._validate_arguments()
        engine = engines.resolve(self.redshift_conn_id, self.log)
        interval = {**interval_parameters(context), "run_id": run_id(context)}
        started = time.monotonic()
        with engine.connect() as conn:  # one connection; each check in a transaction of its own
            results = [self._run(engine, conn, check, interval) for check in self.checks]
            if self.store_results:
                self._store(engine, conn, results, context)
        self._lineage = quality_lineage(engine, self.checks, results, self.store_results)
        if self.store_results:
            assets.record_change(
                context, self.outlets, "quality_results", len(results), {"checks": len(results), **interval}, self.log
            )
        if "ti" in context:  # the publication gate reads them whether the checks passed or not
            context["ti"].xcom_push(key="checks", value=results)
        failed = [r for r in results if r["status"] in ("fail", "error")]
        warned = [r for r in results if r["status"] == "warn"]
        self.log.info(
            "data quality for [%s, %s): %s passed, %s warned, %s failed of %s checks in %.2f s\n%s",
            interval["data_interval_start"],
            interval["data_interval_end"],
            len(results) - len(failed) - len(warned),
            len(warned),
            len(failed),
            len(results),
            time.monotonic() - started,
            format_table(results),
        )
        for r in warned:
            self.log.warning("quality warning: %s (observed %s, expected %s)", r["check"], r["observed"], r["expected"])
        if failed:
            raise QualityChecksFailedError(
                f"{len(failed)} data-quality check(s) failed: "
                + "; ".join(f"{r['check']} (observed {r['observed']}, expected {r['expected']})" for r in failed),
                failed,
            )
        return results

    def _run(self, engine: Engine, conn: Any, check: Check, interval: dict[str, Any]) -> dict[str, Any]:
        """One check in its own transaction, so a broken query cannot hide the others."""
        result = {
            "check": check.name,
            "severity": check.severity,
            "status": "",
            "observed": None,
            "expected": check.expectation,
        }
        try:
            with engine.transaction(conn) as cur:
                cur.execute(check.sql, {**interval, **check.params})
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

    def _store(self, engine: Engine, conn: Any, results: list[dict[str, Any]], context: Any) -> None:
        run, logical, now = run_id(context), logical_date(context), utc_now()
        rows = [
            (run, logical, r["check"], r["severity"], r["status"], str(r["observed"]), r["expected"], now)
            for r in results
        ]
        with engine.transaction(conn) as cur:
            cur.execute(*insert_values(RESULTS_TABLE, RESULT_COLUMNS, rows))


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


def quality_lineage(engine: Engine, checks: list[Check], results: list[dict[str, Any]], stored: bool) -> Lineage:
    """The checked tables as inputs, each with its checks' results as data-quality assertions."""
    tables: dict[str, TableUse] = {}
    for check, r in zip(checks, results, strict=True):
        use = tables.setdefault(check.table or "", TableUse(check.table or ""))
        use.assertions.append(
            {
                "assertion": check.name,
                "success": r["status"] == "pass",
                "column": check.column,
                "severity": check.severity,
                "expected": check.expectation,
                "actual": None if r["observed"] is None else str(r["observed"]),
            }
        )
    outputs = [TableUse("quality_results", rows=len(results))] if stored else []
    return Lineage(engine, inputs=[u for t, u in tables.items() if t], outputs=outputs)
