"""Data-quality checks as data: families that compile to one SQL query each, dbt-test style.

Every check's query returns a single value (the *observed* value) that is compared with an *expected* value.
Identifiers are validated and quoted; values (accepted values, bounds, the data interval) are bound parameters.

Families:

* :func:`custom_sql` — any single-value query, with ``==, !=, <, <=, >, >=`` or ``between``;
* :func:`not_null` — rows with a NULL in any of the columns (expected 0);
* :func:`unique` — key values held by more than one row (expected 0);
* :func:`accepted_values` — rows whose non-NULL value is outside a set (expected 0);
* :func:`relationships` — rows whose non-NULL foreign key has no parent row (expected 0);
* :func:`row_count` — the number of rows, within a range;
* :func:`reconciliation` — one count minus another (expected 0), e.g. loaded vs staged;
* :func:`freshness` — seconds from the newest value to the end of the run's interval (at most a maximum);
* :func:`volume_vs_history` — the interval's row count against the same interval in earlier periods (e.g. the
  same hour of the previous four weeks): its change from their median, in percent (a drop beyond a tolerance
  fails; too little history passes, saying so).

Comparison families (:func:`custom_sql`, :func:`row_count`) take ``tolerance_pct``, as the common-sql check
operators take ``tolerance``: ``== 100`` with 5 % passes from 95 to 105; ``>= 100`` passes from 95; ``<= 100`` up
to 105.

``interval_column`` scopes a check to the run's data interval ``[start, end)``: an hour with no rows passes
honestly, and a broken hour is not hidden by the rest of the table. ``severity`` is ``error`` (fails the task)
or ``warn`` (reported only).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.sql import ident, idents, render

COMPARISONS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
SEVERITIES = ("error", "warn")
INTERVAL = sql.SQL("{col} >= %(data_interval_start)s AND {col} < %(data_interval_end)s")


class QualityChecksFailedError(AirflowFailException):
    """Checks of severity ``error`` failed: not retried (the data will not change), and the failed checks'
    results (``check``, ``observed``, ``expected``) travel with it, to the alert."""

    def __init__(self, message: str, failed: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.failed = failed


@dataclass(frozen=True)
class Check:
    """One compiled check: ``sql`` returns the observed value; ``params`` are bound with the data interval."""

    name: str
    sql: str
    expected: Any
    comparison: str = "=="
    severity: str = "error"
    params: dict[str, Any] = field(default_factory=dict)
    tolerance_pct: float = 0  # how far, in percent of the expected value, the observed one may be off
    null_passes: str | None = None  # set: a NULL observation passes, and this says why (e.g. "too little history")
    table: str | None = None  # what the check is about: lineage attaches its result to this table
    column: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.name}: severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.comparison == "between":
            lo, hi = self.expected  # raises unless a pair
            if lo > hi:
                raise ValueError(f"check {self.name}: between needs low <= high, got {self.expected!r}")
        elif self.comparison not in COMPARISONS:
            raise ValueError(f"check {self.name}: unknown comparison {self.comparison!r}")
        if self.tolerance_pct < 0:
            raise ValueError(f"check {self.name}: tolerance_pct must be >= 0")

    def passes(self, observed: Any) -> bool:
        if observed is None:
            return self.null_passes is not None
        t = self.tolerance_pct / 100
        if self.comparison == "between":
            lo, hi = self.expected
            return lo - abs(lo) * t <= observed <= hi + abs(hi) * t
        slack = abs(self.expected) * t if isinstance(self.expected, (int, float)) else 0
        if self.comparison == "==" and slack:
            return self.expected - slack <= observed <= self.expected + slack
        if self.comparison in (">", ">="):
            return COMPARISONS[self.comparison](observed, self.expected - slack)
        if self.comparison in ("<", "<="):
            return COMPARISONS[self.comparison](observed, self.expected + slack)
        return COMPARISONS[self.comparison](observed, self.expected)

    @property
    def expectation(self) -> str:
        text = (
            f"between {self.expected[0]} and {self.expected[1]}"
            if self.comparison == "between"
            else f"{self.comparison} {self.expected}"
        )
        return text + (f" ± {self.tolerance_pct:g} %" if self.tolerance_pct else "")


def _one(columns: Sequence[str]) -> str | None:
    return columns[0] if len(columns) == 1 else None


def in_interval(column: str) -> str:
    """``column >= %(data_interval_start)s AND column < %(data_interval_end)s``, for hand-written checks."""
    return render(INTERVAL.format(col=ident(column, "column")))


def _where(interval_column: str | None, *conditions: sql.Composable) -> sql.Composable:
    parts = list(conditions)
    if interval_column:
        parts.append(INTERVAL.format(col=ident(interval_column, "column")))
    if not parts:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(sql.SQL("({})").format(p) for p in parts)


def _scope(interval_column: str | None) -> str:
    return " in interval" if interval_column else ""


def custom_sql(
    name: str,
    query: str,
    expected: Any,
    comparison: str = "==",
    severity: str = "error",
    *,
    tolerance_pct: float = 0,
    table: str | None = None,
    **params: Any,
) -> Check:
    """Any query returning one value; it may use ``%(data_interval_start)s`` / ``%(data_interval_end)s`` and
    ``%(run_id)s`` (the run's id). ``table``: what it is about (for lineage)."""
    return Check(name, query, expected, comparison, severity, params, tolerance_pct, table=table)


def not_null(table: str, columns: Sequence[str], *, interval_column: str | None = None, severity: str = "error"):
    nulls = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(ident(c, "column")) for c in columns)
    query = sql.SQL("SELECT COUNT(*) FROM {}{}").format(ident(table, "table"), _where(interval_column, nulls))
    name = f"not_null: {table}({', '.join(columns)}){_scope(interval_column)}"
    return Check(name, render(query), 0, "==", severity, table=table, column=_one(columns))


def unique(table: str, columns: Sequence[str], *, interval_column: str | None = None, severity: str = "error"):
    cols = idents(list(columns))
    query = sql.SQL(
        "SELECT COUNT(*) FROM (SELECT {cols} FROM {t}{where} GROUP BY {cols} HAVING COUNT(*) > 1) AS duplicates"
    ).format(cols=cols, t=ident(table, "table"), where=_where(interval_column))
    name = f"unique: {table}({', '.join(columns)}){_scope(interval_column)}"
    return Check(name, render(query), 0, "==", severity, table=table, column=_one(columns))


def accepted_values(
    table: str, column: str, values: Sequence[Any], *, interval_column: str | None = None, severity: str = "error"
) -> Check:
    names = [f"accepted_{i}" for i in range(len(values))]
    outside = sql.SQL("{} NOT IN ({})").format(
        ident(column, "column"), sql.SQL(", ").join(sql.Placeholder(n) for n in names)
    )
    query = sql.SQL("SELECT COUNT(*) FROM {}{}").format(ident(table, "table"), _where(interval_column, outside))
    name = f"accepted_values: {table}.{column} in {{{', '.join(map(str, values))}}}{_scope(interval_column)}"
    return Check(
        name, render(query), 0, "==", severity, dict(zip(names, values, strict=True)), table=table, column=column
    )


def relationships(
    table: str,
    column: str,
    to_table: str,
    to_column: str,
    *,
    interval_column: str | None = None,
    severity: str = "error",
) -> Check:
    child, parent = ident("child"), ident("parent")
    col, to_col = ident(column, "column"), ident(to_column, "column")
    interval = INTERVAL.format(col=sql.SQL("{}.{}").format(child, ident(interval_column))) if interval_column else None
    conditions = [sql.SQL("{}.{} IS NOT NULL").format(child, col), sql.SQL("{}.{} IS NULL").format(parent, to_col)]
    if interval is not None:
        conditions.append(interval)
    query = sql.SQL("SELECT COUNT(*) FROM {} AS {} LEFT JOIN {} AS {} ON {}.{} = {}.{} WHERE {}").format(
        ident(table, "table"),
        child,
        ident(to_table, "table"),
        parent,
        child,
        col,
        parent,
        to_col,
        sql.SQL(" AND ").join(conditions),
    )
    name = f"relationships: {table}.{column} → {to_table}.{to_column}{_scope(interval_column)}"
    return Check(name, render(query), 0, "==", severity, table=table, column=column)


def row_count(
    table: str,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    interval_column: str | None = None,
    severity: str = "error",
    tolerance_pct: float = 0,
) -> Check:
    query = sql.SQL("SELECT COUNT(*) FROM {}{}").format(ident(table, "table"), _where(interval_column))
    name = f"row_count: {table}{_scope(interval_column)}"
    if maximum is None:
        return Check(name, render(query), minimum, ">=", severity, tolerance_pct=tolerance_pct, table=table)
    return Check(name, render(query), (minimum, maximum), "between", severity, tolerance_pct=tolerance_pct, table=table)


def reconciliation(
    name: str, actual: str, expected: str, *, severity: str = "error", table: str | None = None
) -> Check:
    """``(actual) - (expected)`` must be 0: two single-count queries that must agree."""
    query = f"SELECT ({actual}) - ({expected})"
    return Check(f"reconciliation: {name}", query, 0, "==", severity, table=table)


def freshness(table: str, column: str, *, max_age_seconds: int, severity: str = "warn") -> Check:
    """The newest ``column`` value at or before the interval's end is at most ``max_age_seconds`` old then."""
    col = ident(column, "column")
    newest = sql.SQL("SELECT MAX({col}) FROM {t} WHERE {col} < %(data_interval_end)s").format(
        col=col, t=ident(table, "table")
    )
    # Seconds between the newest value and the interval's end; NULL (no rows at all) fails the check.
    query = sql.SQL(
        "SELECT CAST(EXTRACT(EPOCH FROM CAST(%(data_interval_end)s AS TIMESTAMP)) - EXTRACT(EPOCH FROM ({})) AS BIGINT)"
    ).format(newest)
    name = f"freshness: {table}.{column} within {max_age_seconds:,} s of the interval end"
    return Check(name, render(query), max_age_seconds, "<=", severity, table=table, column=column)


def volume_vs_history(
    table: str,
    interval_column: str,
    *,
    where: str | None = None,
    periods: int = 4,
    period_days: int = 7,
    min_history: int = 2,
    tolerance_pct: float = 50,
    severity: str = "warn",
    label: str | None = None,
) -> Check:
    """The interval's rows against the same interval ``period_days`` … ``periods × period_days`` days earlier.

    Observed: the change, in percent, of this interval's count from the median of the earlier intervals' counts
    (only earlier intervals that have rows count as history). A drop of more than ``tolerance_pct`` fails; with
    fewer than ``min_history`` earlier intervals the query returns nothing and the check passes, saying so.
    ``where`` is a fixed SQL condition (e.g. ``"page = 'NextSong'"``), written by the DAG's author, never input.
    """
    if periods < 1 or period_days < 1 or not 1 <= min_history <= periods:
        raise ValueError("volume_vs_history: need periods >= 1, period_days >= 1 and 1 <= min_history <= periods")
    t, col = ident(table, "table"), ident(interval_column, "column")
    condition = sql.SQL(" AND ({})").format(sql.SQL(where)) if where else sql.SQL("")

    def count(days: int) -> sql.Composable:
        shift = sql.SQL(" - INTERVAL {}").format(sql.Literal(f"{days} days")) if days else sql.SQL("")
        return sql.SQL(
            "SELECT COUNT(*) AS n FROM {t} WHERE {col} >= CAST(%(data_interval_start)s AS TIMESTAMP){shift}"
            " AND {col} < CAST(%(data_interval_end)s AS TIMESTAMP){shift}{condition}"
        ).format(t=t, col=col, shift=shift, condition=condition)

    history = sql.SQL(" UNION ALL ").join(count(k * period_days) for k in range(1, periods + 1))
    median = sql.SQL("PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY h.n)")
    query = sql.SQL(
        "SELECT CAST(100.0 * (c.n - {median}) / {median} AS DOUBLE PRECISION)"
        " FROM ({history}) AS h CROSS JOIN ({current}) AS c WHERE h.n > 0 GROUP BY c.n HAVING COUNT(*) >= {min}"
    ).format(median=median, history=history, current=count(0), min=sql.Literal(min_history))
    name = (
        f"volume_vs_history: {label or table} in interval vs the same interval of the previous {periods} "
        f"× {period_days} days (median), % change"
    )
    return Check(
        name,
        render(query),
        -tolerance_pct,
        ">=",
        severity,
        null_passes=f"fewer than {min_history} earlier intervals with rows",
        table=table,
    )
