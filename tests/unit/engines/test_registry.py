"""Which engine serves a connection, and what adding an engine takes: one class and its place in the list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from airflow.sdk.exceptions import AirflowFailException

from sparkify import engines
from sparkify.engines import registry
from sparkify.engines.registry import UnknownEngineError, engine_class_for
from tests.recording import FakeTransactionHook, RecordingCursor


def conn(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(**{"conn_id": "redshift", "extra_dejson": {}, "host": "", **fields})


@pytest.mark.parametrize(
    ("connection", "engine"),
    [
        (conn(conn_type="postgres", host="127.0.0.1"), "postgres"),
        (conn(conn_type="redshift", host="x"), "redshift"),
        (conn(conn_type="postgres", host="dwh.abc123.us-west-2.redshift.amazonaws.com"), "redshift"),
        (conn(conn_type="postgres", host="wg.123.us-west-2.redshift-serverless.amazonaws.com"), "redshift"),
        (conn(conn_type="postgres", host="x", extra_dejson={"engine": "redshift"}), "redshift"),
        (conn(conn_type="redshift", host="x", extra_dejson={"engine": "postgres"}), "postgres"),
    ],
)
def test_the_connection_picks_the_engine(connection, engine):
    assert engine_class_for(connection).name == engine


def test_an_unknown_engine_or_an_unclaimed_connection_is_a_clear_non_retryable_error():
    with pytest.raises(UnknownEngineError, match=r"extra 'engine' is 'oracle'; engines"):
        engine_class_for(conn(conn_type="postgres", extra_dejson={"engine": "oracle"}))
    with pytest.raises(UnknownEngineError, match=r"type 'mysql'\) is served by no engine") as info:
        engine_class_for(conn(conn_type="mysql"))
    assert isinstance(info.value, AirflowFailException)


def test_engine_options_are_per_engine_and_unknown_keys_fail():
    pg = engines.PostgresEngine("redshift", hook=None)
    options = {"postgres": {"fetch_workers": 4}, "redshift": {"region": "eu-west-1"}}
    assert pg.options_for(options) == {"fetch_workers": 4, "block_bytes": 2 << 20}
    assert engines.RedshiftEngine("redshift", hook=None).options_for(options)["region"] == "eu-west-1"
    with pytest.raises(AirflowFailException, match=r"unknown option\(s\) \['fetch_worker'\]"):
        pg.options_for({"postgres": {"fetch_worker": 4}})


# ----------------------------------------------------------------------------------------------------------------
# A third engine: one class plus its place in the list, and the operators run on it unchanged
# ----------------------------------------------------------------------------------------------------------------
class DuckLikeEngine(engines.Engine):
    """A made-up engine: claims conn_type 'ducklike', locks its own way, talks through a test cursor."""

    name = "ducklike"
    stage_options: ClassVar[dict[str, Any]] = {}
    cursor_for_tests = RecordingCursor(results={"COUNT(*)": [(3,)]})

    @classmethod
    def claims(cls, conn: Any) -> bool:
        return conn.conn_type == "ducklike"

    @classmethod
    def make_hook(cls, conn_id: str) -> Any:
        return FakeTransactionHook(cls.cursor_for_tests)

    def lock_table(self, table: str) -> str:
        return f"-- ducklike locks {table} its own way"


@pytest.fixture
def ducklike(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "ducklike", "host": "localhost"}))
    DuckLikeEngine.cursor_for_tests = RecordingCursor(results={"COUNT(*)": [(3,)]})
    DuckLikeEngine.cursor_for_tests.description = [("user_id",), ("level",)]
    monkeypatch.setattr(registry, "ENGINES", (DuckLikeEngine, *registry.ENGINES))
    return DuckLikeEngine


def test_an_engine_in_the_list_serves_its_connections_and_runs_the_operators(ducklike):
    from sparkify.operators import CreateTablesOperator, LoadDimensionOperator

    assert registry.engine_names() == ["ducklike", "redshift", "postgres"]  # the list's order is the claim order
    engine = engines.resolve("warehouse")
    assert isinstance(engine, DuckLikeEngine)

    CreateTablesOperator(task_id="begin", redshift_conn_id="warehouse").execute({})
    LoadDimensionOperator(
        task_id="load_users",
        table="users",
        sql="SELECT 1 AS user_id, 'free' AS level",
        mode="upsert",
        key_columns=["user_id"],
        redshift_conn_id="warehouse",
    ).execute(
        {
            "data_interval_start": datetime(2018, 11, 1, tzinfo=UTC),
            "data_interval_end": datetime(2018, 11, 1, 1, tzinfo=UTC),
        }
    )

    statements = ducklike.cursor_for_tests.sql
    shared_ddl = [s for s in statements if s.startswith("-- Fact: one row per NextSong event")]
    assert shared_ddl, "the shared DDL runs (the engine has no ddl folder of its own)"
    assert not any("CREATE INDEX" in s for s in statements), "PostgreSQL's indexes are not the engine's"
    assert "-- ducklike locks users its own way" in statements
    assert 'DELETE FROM "users" USING "load_changed" WHERE "users"."user_id" = "load_changed"."user_id"' in (statements)
