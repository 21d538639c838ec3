"""CreateTablesOperator: make sure the warehouse schema exists (idempotent DDL)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import engines
from sparkify.schema import create_tables

if TYPE_CHECKING:
    from airflow.sdk import Context


class CreateTablesOperator(BaseOperator):
    """
    Create the staging, star-schema and bookkeeping tables if they do not exist.

    Adapts :func:`sparkify.schema.create_tables`: the ``include/sql/ddl/*.sql`` statements (``CREATE TABLE IF NOT
    EXISTS``, shared by both engines) with the engine's own files added or substituted by name
    (``include/sql/<engine>/ddl``), in file-name order, in one transaction. Safe on every run and concurrently.

    :param redshift_conn_id: the warehouse connection, whichever engine serves it (the name is the course's
        and the amazon provider's).
    """

    ui_color = "#ededed"

    def __init__(self, *, redshift_conn_id: str = "redshift", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> None:
        create_tables(engines.resolve(self.redshift_conn_id, self.log), self.log)
