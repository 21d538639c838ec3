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
* :func:`freshness` — seconds from the newest value to the end of the run's interval (at most a maximum).

``interval_column`` scopes a check to the run's data interval ``[start, end)``: an hour with no rows passes
honestly, and a broken hour is not hidden by the rest of the table. ``severity`` is ``error`` (fails the task)
or ``warn`` (reported only).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class Check:
    """One compiled check: ``sql`` returns the observed value; ``params`` are bound with the data interval."""

    name: str
    sql: str
    expected: Any
    comparison: str = "=="
    severity: str = "error"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.name}: severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.comparison == "between":
            lo, hi = self.expected  # raises unless a pair
            if lo > hi:
                raise ValueError(f"check {self.name}: between needs low <= high, got {self.expected!r}")
        elif self.comparison not in COMPARISONS:
            raise ValueError(f"check {self.name}: unknown comparison {self.comparison!r}")

    def passes(self, observed: Any) -> bool:
        if observed is None:
            return False
        if self.comparison == "between":
            lo, hi = self.expected
            return lo <= observed <= hi
        return COMPARISONS[self.comparison](observed, self.expected)

    @property
    def expectation(self) -> str:
        if self.comparison == "between":
            return f"between {self.expected[0]} and {self.expected[1]}"
        return f"{self.comparison} {self.expected}"


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
    name: str, query: str, expected: Any, comparison: str = "==", severity: str = "error", **params: Any
) -> Check:
    """Any query returning one value; it may use ``%(data_interval_start)s`` / ``%(data_interval_end)s``."""
    return Check(name, query, expected, comparison, severity, params)


def not_null(table: str, columns: Sequence[str], *, interval_column: str | None = None, severity: str = "error"):
    nulls = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(ident(c, "column")) for c in columns)
    query = sql.SQL("SELECT COUNT(*) FROM {}{}").format(ident(table, "table"), _where(interval_column, nulls))
    name = f"not_null: {table}({', '.join(columns)}){_scope(interval_column)}"
    return Check(name, render(query), 0, "==", severity)


def unique(table: str, columns: Sequence[str], *, interval_column: str | None = None, severity: str = "error"):
    cols = idents(list(columns))
    query = sql.SQL(
        "SELECT COUNT(*) FROM (SELECT {cols} FROM {t}{where} GROUP BY {cols} HAVING COUNT(*) > 1) AS duplicates"
    ).format(cols=cols, t=ident(table, "table"), where=_where(interval_column))
    name = f"unique: {table}({', '.join(columns)}){_scope(interval_column)}"
    return Check(name, render(query), 0, "==", severity)


def accepted_values(
    table: str, column: str, values: Sequence[Any], *, interval_column: str | None = None, severity: str = "error"
) -> Check:
    names = [f"accepted_{i}" for i in range(len(values))]
    outside = sql.SQL("{} NOT IN ({})").format(
        ident(column, "column"), sql.SQL(", ").join(sql.Placeholder(n) for n in names)
    )
    query = sql.SQL("SELECT COUNT(*) FROM {}{}").format(ident(table, "table"), _where(interval_column, outside))
    name = f"accepted_values: {table}.{column} in {{{', '.join(map(str, values))}}}{_scope(interval_column)}"
    return Check(name, render(query), 0, "==", severity, dict(zip(names, values, strict=True)))


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
    return Check(name, render(query), 0, "==", severity)


def row_count(
    table: str,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    interval_column: str | None = None,
    severity: str = "error",
) -> Check:
    query = sql.SQL("SELECT COUNT(*) FROM {}{}").format(ident(table, "table"), _where(interval_column))
    name = f"row_count: {table}{_scope(interval_column)}"
    if maximum is None:
        return Check(name, render(query), minimum, ">=", severity)
    return Check(name, render(query), (minimum, maximum), "between", severity)


def reconciliation(name: str, actual: str, expected: str, *, severity: str = "error") -> Check:
    """``(actual) - (expected)`` must be 0: two single-count queries that must agree."""
    query = f"SELECT ({actual}) - ({expected})"
    return Check(f"reconciliation: {name}", query, 0, "==", severity)


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
    return Check(name, render(query), max_age_seconds, "<=", severity)
