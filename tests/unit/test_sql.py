"""SQL files and identifier handling: one statement per file, shared SQL valid on both engines, identifiers quoted.

Engine-only SQL (``include/sql/<engine>/``) is parsed in its engine's dialect by that engine's tests."""

from __future__ import annotations

import pytest
import sqlfluff
from sqlfluff.core import FluffConfig

from sparkify.sql import SQL_DIR, InvalidIdentifierError, ident, read_sql, render, validate_identifier

SHARED = sorted(p for d in ("ddl", "load", "staging_ledger") for p in (SQL_DIR / d).glob("*.sql"))


def parse(text: str, dialect: str):
    config = FluffConfig(
        overrides={"dialect": dialect, "templater": "placeholder"},
        configs={"templater": {"placeholder": {"param_style": "pyformat"}}},
    )
    return sqlfluff.core.Linter(config=config).parse_string(text)


@pytest.mark.parametrize("path", SHARED, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("dialect", ["redshift", "postgres"])
def test_shared_sql_parses_on_both_engines(path, dialect):
    parsed = parse(path.read_text(), dialect)
    assert not parsed.violations, [v.desc() for v in parsed.violations]


@pytest.mark.parametrize("path", sorted(SQL_DIR.rglob("*.sql")), ids=lambda p: str(p.relative_to(SQL_DIR)))
def test_each_file_holds_one_statement(path):
    assert read_sql(str(path.relative_to(SQL_DIR)))


def test_identifiers_are_validated_and_quoted():
    assert render(ident("users")) == '"users"'
    assert render(ident("public.time")) == '"public"."time"'
    for bad in ["Users", "users; DROP TABLE x", 'us"ers', "a.b.c", "", "1abc", None]:
        with pytest.raises(InvalidIdentifierError):
            validate_identifier(bad)


@pytest.mark.parametrize("path", sorted((SQL_DIR / "postgres").rglob("*.sql")), ids=lambda p: p.name)
def test_postgres_sql_files_parse_as_postgres(path):
    parsed = parse(path.read_text(), "postgres")
    assert not parsed.violations, [v.desc() for v in parsed.violations]
