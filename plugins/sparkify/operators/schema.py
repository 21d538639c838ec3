"""CreateTablesOperator: make sure the warehouse schema exists (idempotent DDL)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import engines
from sparkify.engines import Engine
from sparkify.sql import read_sql

if TYPE_CHECKING:
    from airflow.sdk import Context


class CreateTablesOperator(BaseOperator):
    """
    Create the staging, star-schema and bookkeeping tables if they do not exist.

    Runs the ``include/sql/ddl/*.sql`` statements (``CREATE TABLE IF NOT EXISTS``, shared by both engines) with
    the engine's own files added or substituted by name (``include/sql/<engine>/ddl``: PostgreSQL's indexes,
    Redshift's tables with sort and distribution keys), in file-name order. Safe to run on every DAG run and
    concurrently: the statements are idempotent and run in one transaction (PostgreSQL: under an advisory lock).

    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#ededed"

    def __init__(self, *, redshift_conn_id: str = "redshift", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> None:
        create_tables(engines.resolve(self.redshift_conn_id, self.log), self.log)


def create_tables(engine: Engine, log: Any) -> int:
    """Run the engine's DDL (shared ``ddl/`` plus ``<engine>/ddl/``) in one transaction; return the count."""
    started = time.monotonic()
    files = engine.ddl_files()
    with engine.transaction() as cur:
        lock = engine.ddl_lock()
        if lock:
            cur.execute(lock)
        for path in files:
            cur.execute(read_sql(path))
    log.info("warehouse schema ensured: %s DDL statements in %.2f s", len(files), time.monotonic() - started)
    return len(files)
