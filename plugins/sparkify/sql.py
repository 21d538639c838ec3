"""Safe SQL building blocks shared by every operator.

Identifiers (table and column names) are validated against a strict pattern and then quoted by psycopg's
``sql.Identifier``; values are always bound as query parameters, never formatted into SQL text. SQL files
live in ``include/sql`` with one statement each.
"""

from __future__ import annotations

import re
from pathlib import Path

from psycopg import sql

INCLUDE_DIR = Path(__file__).resolve().parents[2] / "include"
SQL_DIR = INCLUDE_DIR / "sql"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class InvalidIdentifierError(ValueError):
    """A table or column name that is not a plain lower-case SQL identifier."""


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
