"""The analytics tables per engine, without a database: the statements sent (parsed in each engine's dialect)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlfluff

from sparkify.analytics import QUESTIONS, build_tables
from sparkify.engines import PostgresEngine, RedshiftEngine
from tests.recording import FakeTransactionHook, RecordingCursor


def built(engine_class):
    cur = RecordingCursor(results={"SELECT COUNT(*)": [(3,)]})
    hook = FakeTransactionHook(cur, SimpleNamespace(host="dwh.abc.us-west-2.redshift.amazonaws.com", extra_dejson={}))
    counts = build_tables(engine_class("redshift", hook))
    return cur, hook, counts


@pytest.mark.parametrize(("engine_class", "dialect"), [(PostgresEngine, "postgres"), (RedshiftEngine, "redshift")])
def test_every_question_becomes_a_table_of_the_analytics_schema_in_one_transaction(engine_class, dialect):
    cur, hook, counts = built(engine_class)
    assert hook.commits == 1
    assert counts == {q.name: {"rows": 3, "seconds": counts[q.name]["seconds"]} for q in QUESTIONS}
    assert 'CREATE SCHEMA IF NOT EXISTS "analytics"' in cur.sql
    creates = [s for s in cur.sql if s.startswith("CREATE TABLE")]
    assert [c.split(" AS ", 1)[0] for c in creates] == [f'CREATE TABLE "analytics"."{q.name}"' for q in QUESTIONS]
    for q in QUESTIONS:  # each replaced: dropped just before it is created
        i = cur.sql.index(f'DROP TABLE IF EXISTS "analytics"."{q.name}"')
        assert cur.sql[i + 1].startswith(f'CREATE TABLE "analytics"."{q.name}"')
    for statement in creates:
        parsed = sqlfluff.parse(statement, dialect=dialect)
        assert "unparsable" not in str(parsed), statement


def test_session_length_is_engine_sql():
    pg, _, _ = built(PostgresEngine)
    rs, _, _ = built(RedshiftEngine)
    sessions = [next(s for s in cur.sql if '"analytics"."sessions" AS' in s) for cur in (pg, rs)]
    assert "EXTRACT(EPOCH FROM" in sessions[0]
    assert "DATEDIFF(MILLISECOND" in sessions[1]
    assert "EXTRACT(EPOCH" not in sessions[1]  # Redshift cannot EXTRACT from an interval


def test_postgres_serialises_concurrent_builds():
    pg, _, _ = built(PostgresEngine)
    assert pg.sql[0] == "SELECT PG_ADVISORY_XACT_LOCK(HASHTEXT('sparkify-ddl'))"
