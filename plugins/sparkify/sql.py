"""Safe SQL building blocks shared by every operator.

Identifiers (table and column names) are validated against a strict pattern and then quoted by psycopg's
``sql.Identifier``; values are always bound as query parameters, never formatted into SQL text. SQL files
live in ``include/sql`` with one statement each.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

INCLUDE_DIR = Path(__file__).resolve().parents[2] / "include"
SQL_DIR = INCLUDE_DIR / "sql"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class InvalidIdentifierError(AirflowFailException, ValueError):
    """A table or column name that is not a plain lower-case SQL identifier (a task fails at once, no retries)."""


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a plain lower-case identifier (optionally ``schema.table``), else raise."""
    if not isinstance(name, str):
        raise InvalidIdentifierError(f"{what} must be a string, got {type(name).__name__}")
    parts = name.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.match(part) for part in parts):
        raise InvalidIdentifierError(
            f"invalid {what} {name!r}: use lower-case letters, digits and underscores "
            "(optionally schema.table), starting with a letter or underscore"
        )
    return name


def ident(name: str, what: str = "identifier") -> sql.Identifier:
    """A validated, quoted identifier; ``schema.table`` becomes ``"schema"."table"``."""
    return sql.Identifier(*validate_identifier(name, what).split("."))


def idents(names: list[str] | tuple[str, ...], what: str = "column") -> sql.Composed:
    """A comma-separated list of validated, quoted identifiers."""
    if not names:
        raise InvalidIdentifierError(f"at least one {what} is required")
    return sql.SQL(", ").join(ident(n, what) for n in names)


def insert_values(table: str, columns: list[str], rows: list[tuple]) -> tuple[str, dict]:
    """A multi-row ``INSERT … VALUES`` with every value bound (works on Redshift and PostgreSQL alike)."""
    params: dict[str, object] = {}
    tuples = []
    for i, row in enumerate(rows):
        names = [f"r{i}_{j}" for j in range(len(columns))]
        params.update(zip(names, row, strict=True))
        tuples.append(sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder(n) for n in names)))
    statement = sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
        ident(table, "table"), idents(columns), sql.SQL(", ").join(tuples)
    )
    return render(statement), params


def delete_where_in(table: str, column: str, values: list, equal: dict[str, object]) -> tuple[str, dict]:
    """``DELETE FROM table WHERE a = … AND column IN (…)`` with every value bound."""
    params: dict[str, object] = {f"eq{i}": v for i, v in enumerate(equal.values())}
    params.update({f"in{i}": v for i, v in enumerate(values)})
    conditions = [sql.SQL("{} = {}").format(ident(k, "column"), sql.Placeholder(f"eq{i}")) for i, k in enumerate(equal)]
    conditions.append(
        sql.SQL("{} IN ({})").format(
            ident(column, "column"), sql.SQL(", ").join(sql.Placeholder(f"in{i}") for i in range(len(values)))
        )
    )
    statement = sql.SQL("DELETE FROM {} WHERE {}").format(ident(table, "table"), sql.SQL(" AND ").join(conditions))
    return render(statement), params


def delete_matching(cur: Any, target: str, source: str, key_columns: Sequence[str]) -> int:
    """``DELETE FROM target USING source`` on equal ``key_columns``; returns the rows deleted."""
    if not key_columns:
        raise InvalidIdentifierError("matching rows by key needs at least one key column")
    into, rows = ident(target, "table"), ident(source, "table")
    match = sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}.{}").format(into, ident(k, "key column"), rows, ident(k, "key column")) for k in key_columns
    )
    cur.execute(render(sql.SQL("DELETE FROM {} USING {} WHERE {}").format(into, rows, match)))
    return max(cur.rowcount, 0)


def replace_by_key(
    cur: Any, target: str, source: str, key_columns: Sequence[str], columns: Sequence[str] | None = None
) -> tuple[int, int]:
    """Move ``source``'s rows into ``target``, replacing the rows with the same key: ``(replaced, written)``.

    One ``DELETE … USING`` and one ``INSERT … SELECT``, inside the caller's transaction (under its table lock).
    """
    replaced = delete_matching(cur, target, source, key_columns)
    into, rows = ident(target, "table"), ident(source, "table")
    if columns:
        listed = idents(list(columns))
        insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(into, listed, listed, rows)
    else:
        insert = sql.SQL("INSERT INTO {} SELECT * FROM {}").format(into, rows)
    cur.execute(render(insert))
    return replaced, max(cur.rowcount, 0)


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items, taken lazily from any iterable."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def render(statement: sql.Composable) -> str:
    """The SQL text of a composed statement (identifiers only; values stay bound parameters)."""
    return statement.as_string(None)


def read_sql(relative_path: str) -> str:
    """Read one statement from ``include/sql/<relative_path>``."""
    path = SQL_DIR / relative_path
    text = path.read_text(encoding="utf-8").strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    if ";" in _strip_comments(text):
        raise ValueError(f"{path} must hold exactly one statement")
    return text


def _strip_comments(text: str) -> str:
    text = re.sub(r"--[^\n]*", "", text)
    return re.sub(r"'(?:[^']|'')*'", "''", text)
