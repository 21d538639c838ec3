"""The warehouse engine interface, and what every engine shares.

An engine knows how to talk to one kind of warehouse. Everything else — table DDL, load SQL, load modes, quality
checks, staging bookkeeping — is shared and written in the SQL both engines accept. An engine overrides only
what differs (the model is the common-sql provider's ``Dialect``):

* :meth:`Engine.claims` — whether it serves an Airflow connection (the registry asks every engine);
* :meth:`Engine.make_hook` — the provider hook for the connection;
* :meth:`Engine.transaction` — a cursor inside one transaction (:meth:`Engine.cursor` prepares it,
  :meth:`Engine.end_in_error` ends it after an error);
* :meth:`Engine.lock_table`, :meth:`Engine.ddl_lock` — serialising writers;
* :meth:`Engine.sql_path` — SQL dispatch, like dbt's ``adapter.dispatch``: ``include/sql/<engine>/<path>`` when the
  engine has its own version of a statement, else the shared ``include/sql/<path>``; :meth:`Engine.ddl_files`
  is the shared DDL with the engine's files added or substituted by name;
* :meth:`Engine.stage` — "stage these S3 objects into this table", returning the rows staged and the lines
  rejected (which the caller records in ``load_errors``, the same on every engine).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.ingest.contracts import ShapeLedger
from sparkify.ingest.records import Column, Rejection
from sparkify.ingest.s3 import S3Object, S3Source
from sparkify.sql import SQL_DIR, ident, read_sql, render

LOG = logging.getLogger(__name__)


class RejectionBudgetExceededError(AirflowFailException):
    """More input lines were bad than ``max_errors`` allows: the data will not change by retrying."""


@dataclass(frozen=True)
class StageRequest:
    """What a staging task asks an engine to do: read ``objects`` into ``destination``."""

    source: S3Source
    objects: list[S3Object]
    staging_table: str  # the staging table (its columns are ``columns`` + ``staged_from``)
    destination: str  # where the rows go: the staging table itself, or a temporary table LIKE it
    columns: list[Column]  # the data columns, in order
    json_paths: str | None  # key of a JSONPaths file in the bucket; None maps JSON keys to columns by name
    json_layout: str  # "lines" (JSON lines) or "document" (one JSON document per object)
    max_errors: int  # bad lines allowed before the task fails
    by_object: bool  # incremental: exactly these objects are read, and rows record the object they came from
    run_id: str
    dag_id: str  # the run and task name run-specific side files (e.g. COPY manifests)
    task_id: str
    options: Mapping[str, Any] = field(default_factory=dict)  # this engine's options, defaults filled in
    origin_matters: bool = True  # False: rows are replaced by key, so an engine may record a coarser origin
    work: S3Source | None = None  # the project's work bucket, for side files (COPY manifests); never the source
    shapes: ShapeLedger | None = None  # with a source contract: the engine tallies each object's shape here

    def shape_unit(self, obj: S3Object) -> str:
        """What an object's shape is judged with: itself (JSON lines), or its location (one document each)."""
        return obj.key if self.json_layout == "lines" else obj.location

    def staged_from(self, obj: S3Object) -> str:
        """What a row records as its origin: the object itself when ``by_object``, else the requested location."""
        return self.source.uri(obj.key if self.by_object else obj.location)

    def budget_exceeded(self, rejection: Rejection) -> RejectionBudgetExceededError:
        """The error for the first line over the budget, naming it."""
        return RejectionBudgetExceededError(
            f"{self.source.uri(rejection.s3_key)} line {rejection.line_number}: {rejection.reason} "
            f"(rejected {self.max_errors + 1} line(s), max_errors={self.max_errors})"
            + (f"; line starts: {rejection.excerpt[:80]!r}" if rejection.excerpt else "")
        )


def interruption_behind(error: BaseException) -> BaseException | None:
    """The interruption (a task's time limit, Ctrl-C) that ``error`` was raised while handling, if any.

    psycopg turns an interruption inside a pipelined ``executemany`` into ``OperationalError("cannot exit pipeline
    mode while busy")``; the task must still fail as what it was — timed out — and not as a database error that a
    caller's ``except Exception`` would handle as one.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if not isinstance(error, Exception):
            return error
        seen.add(id(error))
        error = error.__context__
    return None


@dataclass
class StageResult:
    rows: int
    rejections: list[Rejection] = field(default_factory=list)


class Engine:
    """A warehouse engine. Subclasses set ``name`` and override what differs from these defaults."""

    name: ClassVar[str] = ""  # the registry key and the engine's SQL folder, include/sql/<name>/
    stage_options: ClassVar[dict[str, Any]] = {}  # the options stage() reads, with their defaults

    def __init__(self, conn_id: str, hook: Any, log: logging.Logger | Any = None) -> None:
        self.conn_id = conn_id
        self.hook = hook
        self.log = log or LOG

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # -- which connections ------------------------------------------------------------------------------------
    @classmethod
    def claims(cls, conn: Any) -> bool:
        """Whether this engine serves ``conn`` when its extra does not name an engine."""
        return False

    @classmethod
    def make_hook(cls, conn_id: str) -> Any:
        raise NotImplementedError

    # -- lineage ----------------------------------------------------------------------------------------------
    def lineage_location(self) -> tuple[str, str | None]:
        """The OpenLineage namespace of this warehouse and its database, e.g. ``("postgres://host:5432", "dwh")``
        — from the provider hook's own ``get_openlineage_database_info``, as the providers' operators do."""
        info = self.hook.get_openlineage_database_info(self.hook.get_connection(self.conn_id))
        return f"{info.scheme}://{info.authority}", info.database

    # -- connections and transactions -------------------------------------------------------------------------
    def cursor(self, conn: Any) -> Any:
        return conn.cursor()

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """One connection for several transactions (see :meth:`transaction`), closed at the end."""
        conn = self.hook.get_conn()
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    @contextlib.contextmanager
    def transaction(self, conn: Any = None) -> Iterator[Any]:
        """A cursor inside one transaction: committed on success, rolled back on any error.

        On ``conn`` (from :meth:`connect`) when given, else on a connection of its own. A rollback that fails too
        (the connection is gone) is logged; the original error is the one raised.
        """
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.connect())
            try:
                yield self.cursor(conn)
                conn.commit()
            except BaseException as error:
                self.end_in_error(conn)
                interruption = interruption_behind(error)
                if interruption is not None and interruption is not error:
                    raise interruption.with_traceback(None) from error
                raise

    def end_in_error(self, conn: Any) -> None:
        """Roll the transaction back after an error; a rollback that fails too (the connection is gone) is logged.

        An engine whose driver can be interrupted mid-statement (a task's time limit) cancels the statement first.
        """
        try:
            conn.rollback()
        except Exception as rollback_error:
            self.log.warning("rollback failed after an error (%s): %s", type(rollback_error).__name__, rollback_error)

    # -- SQL --------------------------------------------------------------------------------------------------
    def lock_table(self, table: str) -> str:
        """Serialise writers of ``table`` for the rest of the transaction (readers are not blocked)."""
        return render(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(ident(table, "table")))

    def ddl_lock(self) -> str | None:
        """A statement serialising concurrent schema creation, where ``CREATE … IF NOT EXISTS`` can race."""
        return None

    def sql_path(self, relative_path: str) -> str:
        """``<name>/<path>`` if this engine has its own version of the statement, else the shared ``<path>``."""
        own = f"{self.name}/{relative_path}"
        return own if (SQL_DIR / own).is_file() else relative_path

    def read_sql(self, relative_path: str) -> str:
        return read_sql(self.sql_path(relative_path))

    def ddl_files(self) -> list[str]:
        """The schema's statements in file-name order: ``ddl/``, with ``<name>/ddl/`` files added or substituted."""
        files: dict[str, str] = {}
        for folder in ("ddl", f"{self.name}/ddl"):
            for path in sorted(Path(SQL_DIR / folder).glob("*.sql")):
                files[path.name] = str(path.relative_to(SQL_DIR))
        return [files[name] for name in sorted(files)]

    # -- staging ----------------------------------------------------------------------------------------------
    def options_for(self, engine_options: Mapping[str, Any] | None) -> dict[str, Any]:
        """This engine's stage options: ``engine_options[name]`` over the defaults; unknown keys fail."""
        given = dict((engine_options or {}).get(self.name) or {})
        unknown = sorted(set(given) - set(self.stage_options))
        if unknown:
            raise AirflowFailException(
                f"engine_options[{self.name!r}]: unknown option(s) {unknown}; "
                f"{self.name} reads {sorted(self.stage_options) or 'none'}"
            )
        return {**self.stage_options, **given}

    def stage(self, cur: Any, request: StageRequest) -> StageResult:
        """Load ``request.objects`` into ``request.destination`` inside the caller's transaction."""
        raise NotImplementedError(f"{type(self).__name__} cannot stage from S3")
