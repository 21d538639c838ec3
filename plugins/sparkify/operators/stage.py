"""StageToRedshiftOperator: JSON objects in S3 → a staging table of the warehouse (Redshift or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify import assets, engines
from sparkify.connections import get_connection
from sparkify.ingest import catalog, contracts
from sparkify.ingest.s3 import MissingInputError, S3Source
from sparkify.lineage import Lineage, LineageMixin, TableUse
from sparkify.runtime import InvalidArgumentError, run_id, utc_now
from sparkify.sql import chunks, delete_where_in, ident, render, replace_by_key, validate_identifier

if TYPE_CHECKING:
    from airflow.sdk import Context

LAYOUTS = ("lines", "document")
INCOMING = "stage_incoming"  # temp table: an incremental stage's rows, before they replace staged rows by key


class StageToRedshiftOperator(LineageMixin, BaseOperator):
    """
    Stage JSON objects from S3 into a staging table of the warehouse.

    The task lists the objects, decides which are pending, has the warehouse's engine load them
    (:mod:`sparkify.engines`: Redshift runs its own ``COPY … FROM 's3://…'``; PostgreSQL streams the objects into
    ``COPY … FROM STDIN``, coercing like Redshift), and records what it staged — in one transaction under a table
    lock: readers see the old rows or the new ones, never a mix, and concurrent runs serialise.

    Re-staging a location replaces exactly the rows staged from it before (rows carry their S3 origin in
    ``staged_from``). Rejected lines (within ``max_errors``) are written to ``load_errors`` on every engine.

    :param table: staging table (validated, quoted).
    :param s3_bucket: the source bucket, only ever read. (templated)
    :param s3_key: an object key, a prefix ending in ``/`` (every object under it), or a list of those; typically
        rendered from the run's data interval. A missing object, or a prefix with no objects, fails the task
        with the location (retried: the source may deliver it later). (templated)
    :param json_paths: key of a JSONPaths file in the same bucket (positional mapping to the table's data
        columns), or ``"auto"`` to map JSON keys to column names case-insensitively. (templated)
    :param json_layout: ``"lines"`` (JSON lines: one record per line, rejections name the line number) or
        ``"document"`` (each object is one JSON document).
    :param contract: the source contract the records are held to (``include/contracts/<contract>.yaml``): each
        object's shape is measured and stored in ``source_observations``; a required field missing beyond the
        contract's tolerance, or a declared field no record carries, fails the task naming object, field and
        share; unknown fields are warnings. None (the default): no contract.
    :param max_errors: how many bad lines may be rejected before the task fails (0, the default: none); the
        rejected lines are recorded in ``load_errors``. (templated: ``"{{ params.max_errors_events }}"`` works)
    :param allow_empty: accept a 0-byte object named by key as "no records" (default: it fails like a missing
        one — an empty day of logs is more likely a broken delivery than a quiet day).
    :param incremental: stage only objects that are new or changed (by ETag) since they were last staged, tracked
        per key in ``staged_objects`` in the same transaction; an unchanged source is listed, not read. With
        ``key_columns``, staged records replace staged records with the same key (a catalogue of documents);
        without, a changed object's rows replace exactly the rows staged from it before (a daily log).
    :param key_columns: with ``incremental``: the identity of a staged record, e.g. ``("song_id",)``.
    :param full_reload: with ``incremental``: empty the staging table and its tracking, and stage every object
        again. (templated: ``"{{ params.full_reload }}"`` works)
    :param work_bucket: the project's own bucket for what staging writes beside the data — Redshift's COPY
        manifests; never the source bucket. Needed by incremental stages on Redshift. (templated)
    :param engine_options: per-engine tuning, e.g. ``{"postgres": {"fetch_workers": 8}, "redshift":
        {"region": "us-west-2"}}``; each engine reads its own entry (see its class) and refuses unknown keys.
    :param redshift_conn_id: the warehouse connection; it picks the engine.
    :param aws_conn_id: the AWS connection (S3 access; ``role_arn`` or keys for Redshift's COPY).
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_key", "json_paths", "max_errors", "full_reload", "work_bucket")
    ui_color = "#358140"

    def __init__(
        self,
        *,
        table: str,
        s3_bucket: str,
        s3_key: str | list[str],
        json_paths: str = "auto",
        json_layout: str = "lines",
        contract: str | None = None,
        max_errors: int | str = 0,
        allow_empty: bool = False,
        incremental: bool = False,
        key_columns: Sequence[str] = (),
        full_reload: bool | str = False,
        work_bucket: str | None = None,
        engine_options: Mapping[str, Mapping[str, Any]] | None = None,
        redshift_conn_id: str = "redshift",
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.json_paths = json_paths
        self.json_layout = json_layout
        self.contract = contract
        self.max_errors = max_errors
        self.allow_empty = allow_empty
        self.incremental = incremental
        self.key_columns = tuple(key_columns)
        self.full_reload = full_reload
        self.work_bucket = work_bucket
        self.engine_options = engine_options
        self.redshift_conn_id = redshift_conn_id
        self.aws_conn_id = aws_conn_id

        self._validate_arguments()  # refused when the DAG is parsed, not when a run gets there

    def _validate_arguments(self) -> None:
        validate_identifier(self.table, "table")
        for column in self.key_columns:
            validate_identifier(column, "key column")
        if self.json_layout not in LAYOUTS:
            raise InvalidArgumentError(f"json_layout must be one of {LAYOUTS}, got {self.json_layout!r}")
        if not isinstance(self.max_errors, str):
            budget(self.max_errors)

    def execute(self, context: Context) -> dict[str, int]:
        self._validate_arguments()
        max_errors = budget(self.max_errors)
        ledger = contracts.ShapeLedger(contracts.load_contract(self.contract)) if self.contract else None
        try:
            return self._stage(context, max_errors, ledger)
        except Exception as exc:
            if ledger is not None and ledger.units:  # the stage rolled back; what it saw of the source is kept
                findings = contracts.judge_ledger(ledger)
                self._record_shapes(ledger, findings, run_id(context))
                if not isinstance(exc, contracts.SourceContractBreachError) and any(f.breaks for f in findings):
                    self.log.error(
                        "the objects read also break their contract: %s",
                        contracts.breach_message(ledger.contract, findings, self._uri),
                    )
            raise

    def _stage(self, context: Context, max_errors: int, ledger: contracts.ShapeLedger | None) -> dict[str, int]:
        engine = engines.resolve(self.redshift_conn_id, self.log)
        self._lineage = lineage = Lineage(engine, outputs=[TableUse(self.table)])
        options = engine.options_for(self.engine_options)
        get_connection(self.aws_conn_id)  # a missing AWS connection fails now, naming its environment variable
        source = S3Source(self.aws_conn_id, self.s3_bucket)
        if self.work_bucket and self.work_bucket == self.s3_bucket:
            raise InvalidArgumentError(
                f"work_bucket is the source bucket ({self.s3_bucket}): the source is read only — give the project's "
                "own bucket (the Airflow Variable sparkify_work_bucket)"
            )
        work = S3Source(self.aws_conn_id, self.work_bucket) if self.work_bucket else None
        full_reload = _truthy(self.full_reload)
        started = time.monotonic()
        locations = [self.s3_key] if isinstance(self.s3_key, str) else list(self.s3_key)
        listed = [obj for loc in locations for obj in source.objects_at(loc)]
        empty = [o for o in listed if o.size == 0 and o.key == o.location]
        if empty and not self.allow_empty:
            raise MissingInputError(
                f"empty input: the object at {source.uri(empty[0].key)} is 0 bytes (task {self.task_id}); the "
                "source delivered nothing for it — re-deliver it, or set allow_empty=True if empty is valid"
            )

        with engine.transaction() as cur:
            try:
                columns = catalog.staging_columns(cur, self.table)
            except catalog.StagingTableError as exc:
                raise AirflowFailException(str(exc)) from None
            cur.execute(engine.lock_table(self.table))
            target, replaced = ident(self.table, "table"), 0
            if not self.incremental:  # the locations' rows are replaced wholesale
                pending, destination = listed, self.table
                replaced = self._forget_rows_from(cur, [source.uri(loc) for loc in locations])
            else:  # only new or changed objects (by ETag) are read
                if full_reload and self.key_columns:
                    cur.execute(render(sql.SQL("DELETE FROM {}").format(target)))
                    replaced = max(cur.rowcount, 0)
                    catalog.forget_objects(cur, self.table)
                pending = listed if full_reload else catalog.pending_objects(cur, self.table, listed)
                if self.key_columns:  # records land apart, then replace staged records by key
                    destination = INCOMING
                    cur.execute(render(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(ident(INCOMING), target)))
                else:  # each object's rows replace the rows staged from it before
                    destination = self.table
                    replaced = self._forget_rows_from(cur, [source.uri(o.key) for o in pending])

            lineage.read_objects(self.s3_bucket, [o.key for o in pending], locations)
            lineage.outputs[0].columns = [(c.name, c.data_type) for c in columns]
            request = engines.StageRequest(
                source=source,
                objects=pending,
                staging_table=self.table,
                destination=destination,
                columns=columns,
                json_paths=None if self.json_paths == "auto" else self.json_paths,
                json_layout=self.json_layout,
                max_errors=max_errors,
                by_object=self.incremental,
                run_id=run_id(context),
                dag_id=self.dag_id,
                task_id=self.task_id,
                options=options,
                origin_matters=not self.key_columns,
                work=work,
                shapes=ledger,
            )
            result = engine.stage(cur, request) if pending else engines.StageResult(0)
            now = utc_now()
            findings = self._judge_shapes(ledger, source, lineage) if ledger is not None else []
            catalog.record_observations(cur, self.table, self.contract or "", findings, source.uri, request.run_id, now)
            catalog.record_rejections(cur, self.table, result.rejections, request.run_id, now)
            if self.incremental and self.key_columns:
                replaced += replace_by_key(cur, self.table, INCOMING, self.key_columns)[0]
                cur.execute(render(sql.SQL("DROP TABLE {}").format(ident(INCOMING))))
            if self.incremental:
                catalog.track_objects(cur, self.table, pending, request.run_id, now)

        if self.incremental and listed and not pending:
            self.log.info(
                "nothing to read: all %s listed objects are staged already, unchanged (same ETag)", f"{len(listed):,}"
            )
        for r in result.rejections[:20]:
            self.log.warning("rejected %s line %s: %s", source.uri(r.s3_key), r.line_number, r.reason)
        n_bytes = sum(o.size for o in pending)
        self.log.info(
            "staged %s rows into %s from %s of %s listed objects (%s) on %s in %.1f s; %s lines rejected%s; "
            "%s previously staged rows replaced%s",
            f"{result.rows:,}",
            self.table,
            f"{len(pending):,}",
            f"{len(listed):,}",
            _human_bytes(n_bytes),
            engine.name,
            time.monotonic() - started,
            f"{len(result.rejections):,}",
            " (recorded in load_errors)" if result.rejections else "",
            f"{replaced:,}",
            (" (full reload)" if full_reload else " (incremental: new or changed objects only)")
            if self.incremental
            else "",
        )
        lineage.outputs[0].rows = result.rows
        summary = {
            "rows_staged": result.rows,
            "lines_rejected": len(result.rejections),
            "objects_listed": len(listed),
            "objects_read": len(pending),
            "bytes_read": n_bytes,
        }
        assets.record_change(
            context,
            self.outlets,
            self.table,
            result.rows + replaced,
            {**summary, "rows_replaced": replaced, "run_id": request.run_id},
            self.log,
        )
        return summary

    def _judge_shapes(self, ledger: contracts.ShapeLedger, source: S3Source, lineage: Lineage) -> list[Any]:
        """The objects' shapes against the contract: warnings logged, a breach raised (the stage rolls back)."""
        findings = contracts.judge_ledger(ledger)
        lineage.s3_schema = contracts.observed_schema(ledger)
        for f in findings:
            if f.severity == contracts.WARN:
                self.log.warning("%s: %s (contract %s)", source.uri(f.unit), f.describe(), ledger.contract.name)
        if any(f.breaks for f in findings):
            raise contracts.SourceContractBreachError(contracts.breach_message(ledger.contract, findings, source.uri))
        conforming = sum(f.kind == contracts.CONFORMS for f in findings)
        self.log.info(
            "shape: %s of %s objects conform to the %s contract", conforming, len(ledger.units), ledger.contract.name
        )
        return findings

    def _uri(self, key: str) -> str:
        return f"s3://{self.s3_bucket}/{key}"

    def _record_shapes(self, ledger: contracts.ShapeLedger, findings: list[Any], run: str) -> None:
        """Store the findings of a stage that failed, in a transaction of their own (best effort: logged)."""
        try:
            engine = engines.resolve(self.redshift_conn_id, self.log)
            with engine.transaction() as cur:
                catalog.record_observations(cur, self.table, ledger.contract.name, findings, self._uri, run, utc_now())
        except Exception as exc:
            self.log.warning("could not record the source's shape after the failure: %s", exc)

    def _forget_rows_from(self, cur: Any, origins: list[str]) -> int:
        """Delete the staged rows whose ``staged_from`` is one of ``origins``; return how many."""
        deleted = 0
        for chunk in chunks(origins, 1000):
            cur.execute(*delete_where_in(self.table, catalog.STAGED_FROM, chunk, {}))
            deleted += max(cur.rowcount, 0)
        return deleted


def budget(value: Any) -> int:
    """``max_errors`` as a number of lines (a rendered template is text); a clear error for anything else."""
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or number < 0:
        raise InvalidArgumentError(f"max_errors must be a whole number >= 0, got {value!r}")
    return number


def _truthy(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes", "on")


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"
