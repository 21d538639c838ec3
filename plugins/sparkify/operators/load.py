"""LoadFactOperator and LoadDimensionOperator: a SELECT from ``include/sql/load`` → a star-schema table.

Both adapt :func:`sparkify.loading.load_table` (the modes are described there), run in one transaction. Every
SELECT gets the run's data interval bound as ``%(data_interval_start)s`` / ``%(data_interval_end)s``
(naive UTC timestamps), plus any ``parameters`` given.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from sparkify import assets, engines
from sparkify.lineage import Lineage, LineageMixin, TableUse
from sparkify.loading import load_table
from sparkify.runtime import InvalidArgumentError, interval_parameters
from sparkify.sql import validate_identifier

if TYPE_CHECKING:
    from airflow.sdk import Context


class _LoadTableOperator(LineageMixin, BaseOperator):
    modes: ClassVar[tuple[str, ...]] = ()
    template_fields: Sequence[str] = ("sql", "parameters")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}

    def __init__(
        self,
        *,
        table: str,
        sql: str,
        mode: str,
        key_columns: Sequence[str] = (),
        interval_column: str | None = None,
        parameters: dict[str, Any] | None = None,
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.sql = sql
        self.mode = mode
        self.key_columns = tuple(key_columns)
        self.interval_column = interval_column
        self.parameters = parameters or {}
        self.redshift_conn_id = redshift_conn_id

        self._validate_arguments()  # refused when the DAG is parsed, not when a run gets there

    def _validate_arguments(self) -> None:
        validate_identifier(self.table, "table")
        for column in (*self.key_columns, *([self.interval_column] if self.interval_column else [])):
            validate_identifier(column, "column")
        name = type(self).__name__
        if self.mode not in self.modes:
            raise InvalidArgumentError(f"{name}: mode must be one of {self.modes}, got {self.mode!r}")
        if self.mode == "upsert" and not self.key_columns:
            raise InvalidArgumentError(f"{name}: mode 'upsert' needs key_columns")
        if self.interval_column and self.mode != "upsert":
            raise InvalidArgumentError(f"{name}: interval_column needs mode 'upsert'")

    def execute(self, context: Context) -> dict[str, int]:
        self._validate_arguments()
        if self.sql.rstrip().endswith(".sql"):
            raise AirflowFailException(f"SQL file {self.sql!r} was not found on the DAG's template_searchpath")
        engine = engines.resolve(self.redshift_conn_id, self.log)
        self._lineage = Lineage(engine, queries=[self.sql], outputs=[TableUse(self.table)])
        params = {**interval_parameters(context), **self.parameters}
        started = time.monotonic()
        with engine.transaction() as cur:
            counts = load_table(
                cur, engine, self.table, self.sql, params, self.mode, self.key_columns, self.interval_column
            )
        counts["seconds"] = round(time.monotonic() - started, 3)
        self.log.info(
            "%s (%s) for [%s, %s): %s rows selected → %s inserted, %s updated, %s unchanged%s%s in %.2f s; "
            "table now %s rows",
            self.table,
            self.mode,
            params["data_interval_start"],
            params["data_interval_end"],
            f"{counts['selected']:,}",
            f"{counts['inserted']:,}",
            f"{counts['updated']:,}",
            f"{counts['unchanged']:,}",
            f", {counts['deleted']:,} deleted first" if self.mode == "truncate-insert" else "",
            f", {counts['removed']:,} removed (in the interval, gone from the source)" if self.interval_column else "",
            counts["seconds"],
            f"{counts['table_rows']:,}",
        )
        self._lineage.outputs[0].rows = counts["inserted"] + counts["updated"]
        changed = counts["inserted"] + counts["updated"] + counts["deleted"] + counts["removed"]
        assets.record_change(context, self.outlets, self.table, changed, {**params, **counts}, self.log)
        return counts


class LoadFactOperator(_LoadTableOperator):
    """
    Load a fact table from a SELECT over the staging tables, for the run's data interval.

    :param table: the fact table (validated, quoted).
    :param sql: a SELECT, usually a file under ``include/sql/load/`` (templated; ``.sql`` files are read from
        the DAG's ``template_searchpath``). It may use ``%(data_interval_start)s`` / ``%(data_interval_end)s``.
    :param mode: ``upsert`` (default; idempotent re-runs, needs ``key_columns``) or ``append``.
    :param key_columns: the fact's stable key, e.g. ``("songplay_id",)``.
    :param interval_column: with ``upsert``: the column that places a row in a data interval (e.g.
        ``start_time``); the interval's rows the SELECT no longer returns are removed (a re-delivered source).
    :param parameters: more values to bind. (templated)
    :param redshift_conn_id: the warehouse connection, whichever engine serves it (the name is the course's
        and the amazon provider's).
    """

    modes = ("upsert", "append")
    ui_color = "#F98866"

    def __init__(self, *, mode: str = "upsert", **kwargs: Any) -> None:
        super().__init__(mode=mode, **kwargs)


class LoadDimensionOperator(_LoadTableOperator):
    """
    Load a dimension table from a SELECT over staging (and, for merges, the dimension itself).

    :param table: the dimension table (validated, quoted).
    :param sql: a SELECT, usually a file under ``include/sql/load/`` (templated). It may use
        ``%(data_interval_start)s`` / ``%(data_interval_end)s``.
    :param mode: ``truncate-insert`` (default: the table becomes exactly the SELECT), ``append``, or
        ``upsert`` (replace rows by ``key_columns``, insert new ones).
    :param key_columns: the dimension's key, required for ``upsert``.
    :param interval_column: with ``upsert``, for a dimension of the interval's rows (e.g. ``time``): the
        interval's rows the SELECT no longer returns are removed.
    :param parameters: more values to bind. (templated)
    :param redshift_conn_id: the warehouse connection, whichever engine serves it (the name is the course's
        and the amazon provider's).
    """

    modes = ("truncate-insert", "append", "upsert")
    ui_color = "#80BD9E"

    def __init__(self, *, mode: str = "truncate-insert", **kwargs: Any) -> None:
        super().__init__(mode=mode, **kwargs)
