"""DataQualityOperator: run declared checks against the warehouse and fail on any that does not hold."""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from sparkify.operators.load import interval_parameters
from sparkify.warehouse import ConnectionNotConfiguredError, Warehouse

if TYPE_CHECKING:
    from airflow.sdk import Context

COMPARISONS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class DataQualityOperator(BaseOperator):
    """
    Run data-quality checks: each a SQL query returning one value, compared with an expected value.

    Checks are data, declared by the DAG; none are built into the operator. A check is a mapping with
    ``name``, ``sql`` (one statement; may use ``%(data_interval_start)s`` / ``%(data_interval_end)s``),
    ``expected`` and optionally ``comparison`` (one of ``==, !=, <, <=, >, >=``; default ``==``).
    All checks run; the log shows one table of results and the failure names every failed check.

    :param checks: the checks. (templated)
    :param redshift_conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("checks",)
    ui_color = "#89DA59"

    def __init__(self, *, checks: list[dict[str, Any]], redshift_conn_id: str = "redshift", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checks = checks
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        if not self.checks:
            raise AirflowFailException("DataQualityOperator was given no checks")
        for check in self.checks:
            if check.get("comparison", "==") not in COMPARISONS:
                raise AirflowFailException(f"check {check.get('name')!r}: unknown comparison {check['comparison']!r}")
        try:
            warehouse = Warehouse.from_conn_id(self.redshift_conn_id)
        except ConnectionNotConfiguredError as exc:
            raise AirflowFailException(str(exc)) from None
        params = interval_parameters(context)
        started = time.monotonic()
        results = []
        with warehouse.transaction() as cur:
            for check in self.checks:
                cur.execute(check["sql"], params)
                row = cur.fetchone()
                observed = row[0] if row else None
                comparison = check.get("comparison", "==")
                passed = observed is not None and COMPARISONS[comparison](observed, check["expected"])
                results.append(
                    {
                        "check": check["name"],
                        "status": "pass" if passed else "FAIL",
                        "observed": observed,
                        "expected": f"{comparison} {check['expected']}",
                    }
                )
        self.log.info(
            "data quality: %s/%s checks passed in %.2f s\n%s",
            sum(r["status"] == "pass" for r in results),
            len(results),
            time.monotonic() - started,
            format_table(results),
        )
        failed = [r for r in results if r["status"] != "pass"]
        if failed:
            raise AirflowFailException(
                f"{len(failed)} data-quality check(s) failed: "
                + "; ".join(f"{r['check']} (observed {r['observed']}, expected {r['expected']})" for r in failed)
            )
        return results


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of dicts with the same keys (for task logs)."""
    if not rows:
        return "(no rows)"
    headers = list(rows[0])
    cells = [[str(r[h]) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)
