"""The load modes (sparkify.loading) as SQL through a recording cursor, on both engines: what each mode runs and
what it counts. The integration tests run the same function against the real PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from sparkify.engines import PostgresEngine, RedshiftEngine
from sparkify.loading import load_table
from tests.recording import RecordingCursor

INTERVAL = {"data_interval_start": datetime(2018, 11, 15, 16), "data_interval_end": datetime(2018, 11, 15, 17)}
SELECT = "SELECT user_id, level FROM staging_events"


def cursor(selected: int = 5, table_rows: int = 40, rowcount: int = 3, table: str = "users") -> RecordingCursor:
    cur = RecordingCursor(
        results={
            'SELECT COUNT(*) FROM "load_selected"': [(selected,)],
            f'SELECT COUNT(*) FROM "{table}"': [(table_rows,)],
        },
        rowcount=rowcount,
    )
    cur.description = [("user_id",), ("level",)]
    return cur


@pytest.mark.parametrize("engine", [PostgresEngine("w", hook=None), RedshiftEngine("w", hook=None)])
def test_upsert_writes_only_new_or_changed_rows_by_key_under_the_engines_lock(engine):
    cur = cursor(selected=5, rowcount=3)
    counts = load_table(cur, engine, "users", SELECT, INTERVAL, "upsert", ["user_id"])

    assert cur.sql[0] == engine.lock_table("users")
    assert cur.sql[1] == 'CREATE TEMP TABLE "load_selected" AS ' + SELECT
    assert cur.statements[1][1] == INTERVAL  # the interval is bound, not formatted in
    assert (
        'CREATE TEMP TABLE "load_changed" AS SELECT "user_id", "level" FROM "load_selected" '
        'EXCEPT SELECT "user_id", "level" FROM "users"'
    ) in cur.sql
    assert 'DELETE FROM "users" USING "load_changed" WHERE "users"."user_id" = "load_changed"."user_id"' in cur.sql
    assert cur.sql[-3:-1] == ['DROP TABLE "load_changed"', 'DROP TABLE "load_selected"']
    # 3 rows replaced (the DELETE's rowcount) of 3 written: all updates; 2 of the 5 selected were identical
    assert counts == {
        "selected": 5,
        "unchanged": 2,
        "inserted": 0,
        "updated": 3,
        "deleted": 0,
        "removed": 0,
        "table_rows": 40,
    }


def test_upsert_with_an_interval_column_removes_the_intervals_rows_the_select_no_longer_returns():
    cur = cursor(table="time")
    counts = load_table(
        cur, PostgresEngine("w", hook=None), "time", SELECT, INTERVAL, "upsert", ["start_time"], "start_time"
    )

    vanished = next(s for s in cur.statements if s[0].startswith('CREATE TEMP TABLE "load_vanished"'))
    assert vanished[0] == (
        'CREATE TEMP TABLE "load_vanished" AS SELECT "start_time" FROM "time" WHERE "start_time" >= '
        '%(data_interval_start)s AND "start_time" < %(data_interval_end)s EXCEPT SELECT "start_time" FROM '
        '"load_selected"'
    )
    assert vanished[1] == INTERVAL
    assert 'DROP TABLE "load_vanished"' in cur.sql
    assert counts["removed"] == 3


def test_truncate_insert_deletes_every_row_in_the_transaction_then_inserts():
    cur = cursor(selected=5, rowcount=5)
    counts = load_table(cur, RedshiftEngine("w", hook=None), "users", SELECT, INTERVAL, "truncate-insert", [])

    delete, insert = (
        cur.sql.index('DELETE FROM "users"'),
        cur.sql.index('INSERT INTO "users" ("user_id", "level") SELECT "user_id", "level" FROM "load_selected"'),
    )
    assert delete < insert
    assert not any(s.startswith("TRUNCATE") for s in cur.sql)  # Redshift's TRUNCATE would commit
    assert (counts["deleted"], counts["inserted"], counts["updated"], counts["unchanged"]) == (5, 5, 0, 0)


def test_append_inserts_every_selected_row_and_deletes_nothing():
    cur = cursor(selected=5, rowcount=5)
    counts = load_table(cur, PostgresEngine("w", hook=None), "users", SELECT, INTERVAL, "append", [])

    assert not any(s.startswith("DELETE") for s in cur.sql)
    assert (counts["inserted"], counts["deleted"]) == (5, 0)
