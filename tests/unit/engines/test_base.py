"""What every engine shares: one transaction per use, SQL dispatch by engine, DDL files by name."""

from __future__ import annotations

import pytest

from sparkify.engines import Engine, PostgresEngine, RedshiftEngine
from sparkify.sql import SQL_DIR
from tests.recording import FakeTransactionHook, RecordingCursor


class BrokenRollbackHook(FakeTransactionHook):
    """The connection is gone: rollback fails too."""

    def get_conn(self):
        conn = super().get_conn()

        def rollback():
            raise ConnectionError("server closed the connection unexpectedly")

        conn.rollback = rollback
        return conn


def test_a_transaction_commits_on_success_and_rolls_back_on_error():
    hook = FakeTransactionHook(RecordingCursor())
    engine = Engine("redshift", hook)
    with engine.transaction() as cur:
        cur.execute("SELECT 1")
    assert (hook.commits, hook.rollbacks) == (1, 0)
    with pytest.raises(ValueError, match="bad row"), engine.transaction():
        raise ValueError("bad row")
    assert (hook.commits, hook.rollbacks) == (1, 1)


def test_a_failed_rollback_does_not_replace_the_original_error(caplog):
    engine = Engine("redshift", BrokenRollbackHook(RecordingCursor()))
    with pytest.raises(ValueError, match="the real error"), engine.transaction():
        raise ValueError("the real error")
    assert "rollback failed after an error (ConnectionError)" in caplog.text


def test_an_interruption_a_driver_wrapped_is_raised_as_itself():
    """A time limit that fires inside psycopg's pipelined executemany comes out as an OperationalError; the
    transaction rolls back and the task fails as timed out, past callers' ``except Exception``."""

    class TaskTimeout(BaseException):
        pass

    def executemany_interrupted_by_the_time_limit():
        try:
            raise TaskTimeout("Timeout, PID: 1")
        except TaskTimeout:
            raise ValueError("cannot exit pipeline mode while busy") from None

    hook = FakeTransactionHook(RecordingCursor())
    with pytest.raises(TaskTimeout, match="Timeout, PID: 1") as raised, Engine("redshift", hook).transaction():
        executemany_interrupted_by_the_time_limit()
    assert hook.rollbacks == 1
    assert "pipeline mode" in str(raised.value.__cause__)


def test_sql_dispatch_prefers_the_engine_own_file_and_falls_back_to_the_shared_one():
    redshift, postgres = RedshiftEngine("redshift", None), PostgresEngine("redshift", None)
    assert redshift.sql_path("ddl/10_songplays.sql") == "redshift/ddl/10_songplays.sql"
    assert postgres.sql_path("ddl/10_songplays.sql") == "ddl/10_songplays.sql"
    assert redshift.sql_path("load/songplays.sql") == "load/songplays.sql"
    assert redshift.read_sql("staging_ledger/copy_rejections.sql").startswith("-- Lines the last COPY")


def test_every_engine_runs_every_shared_table_once():
    shared = sorted(p.name for p in (SQL_DIR / "ddl").glob("*.sql"))
    for engine in (RedshiftEngine("redshift", None), PostgresEngine("redshift", None)):
        names = [f.rsplit("/", 1)[-1] for f in engine.ddl_files()]
        assert len(names) == len(set(names))
        assert set(shared) <= set(names)
        assert names == sorted(names)
