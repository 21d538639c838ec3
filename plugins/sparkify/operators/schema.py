"""CreateTablesOperator: make sure the warehouse schema exists (idempotent DDL)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify.sql import SQL_DIR, read_sql
from sparkify.warehouse import Warehouse

if TYPE_CHECKING:
    from airflow.sdk import Context


class CreateTablesOperator(BaseOperator):
    """
    Create the staging, star-schema and bookkeeping tables if they do not exist.

    Runs every ``include/sql/ddl/*.sql`` statement in name order (``CREATE TABLE IF NOT EXISTS``: shared by
    both engines), then the engine's extras (PostgreSQL: ``include/sql/ddl_postgres``, indexes). Safe to run
    on every DAG run and concurrently: the statements are idempotent and run in one transaction under a lock.

    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#ededed"

    def __init__(self, *, redshift_conn_id: str = "redshift", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> None:
        warehouse = Warehouse.from_conn_id(self.redshift_conn_id)
        create_tables(warehouse, self.log)


def create_tables(warehouse: Warehouse, log: Any) -> int:
    started = time.monotonic()
    files = [p for d in warehouse.ddl_directories() for p in sorted((SQL_DIR / d).glob("*.sql"))]
    with warehouse.transaction() as cur:
        lock = warehouse.ddl_lock()
        if lock:
            cur.execute(lock)
        for path in files:
            cur.execute(read_sql(str(path.relative_to(SQL_DIR))))
    log.info("warehouse schema ensured: %s DDL statements in %.2f s", len(files), time.monotonic() - started)
    return len(files)
