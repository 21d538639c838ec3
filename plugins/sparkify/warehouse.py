"""The one place where Redshift and PostgreSQL differ.

The warehouse connection (``redshift`` by default) decides the dialect:

* ``conn_type`` ``redshift``, an ``extra`` of ``{"dialect": "redshift"}``, or a host under
  ``.redshift.amazonaws.com`` / ``.redshift-serverless.amazonaws.com`` → **Redshift**: the provider's
  ``RedshiftSQLHook``; staging is Redshift's own ``COPY … FROM 's3://…'``.
* anything else (``postgres``) → **PostgreSQL** (the embedded default): ``PostgresHook``; staging streams the S3
  objects into ``COPY … FROM STDIN``.

Everything else — table DDL, load SQL, load modes, quality checks — is shared and written in the SQL both
engines accept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.sql import ident

POSTGRES = "postgres"
REDSHIFT = "redshift"
_REDSHIFT_HOST_SUFFIXES = (".redshift.amazonaws.com", ".redshift-serverless.amazonaws.com")


class ConnectionNotConfiguredError(AirflowFailException):
    """An Airflow connection the pipeline needs is not defined: the task fails at once, retrying will not help."""


_EXAMPLES = {
    "redshift": "postgres://user:password@127.0.0.1:5432/warehouse (embedded default) or "
    "redshift://user:password@cluster.abc123.us-west-2.redshift.amazonaws.com:5439/dev",
    "aws_default": '{"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::123456789012:role/RedshiftS3Read", '
    '"region_name": "us-west-2"}}',
}


def get_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id``, or an error that names the environment variable to set."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        env_var = "AIRFLOW_CONN_" + conn_id.upper()
        example = _EXAMPLES.get(conn_id, _EXAMPLES["redshift"] if "aws" not in conn_id else _EXAMPLES["aws_default"])
        raise ConnectionNotConfiguredError(
            f"Airflow connection {conn_id!r} is not defined. Set the environment variable {env_var} "
            f"(for example {env_var}='{example}') or add the connection in the Airflow UI."
        ) from None


def dialect_of(conn: Any) -> str:
    """``redshift`` or ``postgres`` for an Airflow connection (see the module docstring)."""
    extra = conn.extra_dejson or {}
    declared = str(extra.get("dialect", "")).lower()
    if declared in (POSTGRES, REDSHIFT):
        return declared
    if declared:
        raise ValueError(f"connection {conn.conn_id!r}: extra 'dialect' must be 'postgres' or 'redshift'")
    if conn.conn_type == REDSHIFT or (conn.host or "").lower().endswith(_REDSHIFT_HOST_SUFFIXES):
        return REDSHIFT
    return POSTGRES


@dataclass
class Warehouse:
    """A resolved warehouse connection: its dialect and the provider hook that talks to it."""

    conn_id: str
    dialect: str
    hook: Any

    @classmethod
    def from_conn_id(cls, conn_id: str) -> Warehouse:
        conn = get_connection(conn_id)
        dialect = dialect_of(conn)
        if dialect == REDSHIFT:
            from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

            hook = RedshiftSQLHook(redshift_conn_id=conn_id)
        else:
            from airflow.providers.postgres.hooks.postgres import PostgresHook

            hook = PostgresHook(postgres_conn_id=conn_id)
        return cls(conn_id=conn_id, dialect=dialect, hook=hook)

    @property
    def is_redshift(self) -> bool:
        return self.dialect == REDSHIFT

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction: committed on success, rolled back on any error."""
        conn = self.hook.get_conn()
        try:
            cur = conn.cursor()
            if self.is_redshift:
                cur.paramstyle = "pyformat"  # the SQL files use %(name)s placeholders, like psycopg
            yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def lock_table(self, table: str) -> sql.Composed:
        """Serialise writers of ``table`` for the rest of the transaction (readers are not blocked on Postgres)."""
        if self.is_redshift:
            return sql.SQL("LOCK {}").format(ident(table, "table"))
        return sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(ident(table, "table"))

    def ddl_lock(self) -> str | None:
        """A statement serialising concurrent schema creation (PostgreSQL's CREATE … IF NOT EXISTS can race)."""
        return None if self.is_redshift else "SELECT pg_advisory_xact_lock(hashtext('sparkify-ddl'))"

    def ddl_directories(self) -> tuple[str, ...]:
        """Folders under ``include/sql`` whose statements build the schema on this engine, in order."""
        return ("ddl",) if self.is_redshift else ("ddl", "ddl_postgres")
