"""SQL files and identifier handling: one statement per file, valid on both engines, identifiers quoted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlfluff
from sqlfluff.core import FluffConfig

from sparkify.sql import SQL_DIR, InvalidIdentifierError, ident, read_sql, render, validate_identifier
from sparkify.warehouse import POSTGRES, REDSHIFT, Warehouse, dialect_of

SHARED = sorted(p for d in ("ddl", "load", "catalog") for p in (SQL_DIR / d).glob("*.sql"))


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


@pytest.mark.parametrize("path", sorted(SQL_DIR.rglob("*.sql")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_file_holds_one_statement(path):
    assert read_sql(str(path.relative_to(SQL_DIR)))


def test_identifiers_are_validated_and_quoted():
    assert render(ident("users")) == '"users"'
    assert render(ident("public.time")) == '"public"."time"'
    for bad in ["Users", "users; DROP TABLE x", 'us"ers', "a.b.c", "", "1abc", None]:
        with pytest.raises(InvalidIdentifierError):
            validate_identifier(bad)


@pytest.mark.parametrize(
    ("conn", "dialect"),
    [
        ({"conn_type": "postgres", "host": "127.0.0.1"}, POSTGRES),
        ({"conn_type": "redshift", "host": "x"}, REDSHIFT),
        ({"conn_type": "postgres", "host": "dwh.abc123.us-west-2.redshift.amazonaws.com"}, REDSHIFT),
        ({"conn_type": "postgres", "host": "wg.123.us-west-2.redshift-serverless.amazonaws.com"}, REDSHIFT),
        ({"conn_type": "postgres", "host": "x", "extra_dejson": {"dialect": "redshift"}}, REDSHIFT),
    ],
)
def test_dialect_comes_from_the_connection(conn, dialect):
    conn = SimpleNamespace(**{"conn_id": "redshift", "extra_dejson": {}, **conn})
    assert dialect_of(conn) == dialect


def test_lock_statement_differs_per_engine():
    pg = Warehouse("redshift", POSTGRES, hook=None)
    rs = Warehouse("redshift", REDSHIFT, hook=None)
    assert render(pg.lock_table("users")) == 'LOCK TABLE "users" IN SHARE ROW EXCLUSIVE MODE'
    assert render(rs.lock_table("users")) == 'LOCK "users"'
    assert parse(render(rs.lock_table("users")), "redshift").violations == []
