"""StageToRedshiftOperator: JSON objects in S3 → a staging table of the warehouse (Redshift or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import assets, engines, staging
from sparkify.connections import get_connection
from sparkify.ingest.s3 import S3Source
from sparkify.lineage import Lineage, LineageMixin, TableUse
from sparkify.runtime import InvalidArgumentError, is_template, require_type, run_id
from sparkify.sql import validate_identifier

if TYPE_CHECKING:
    from airflow.sdk import Context


class StageToRedshiftOperator(LineageMixin, BaseOperator):
    """
    Stage JSON objects from S3 into a staging table of the warehouse.

    An Airflow adapter for :func:`sparkify.staging.stage`: one transaction under the table's lock that lists the
    objects, has the warehouse's engine copy the pending ones (Redshift runs its own ``COPY … FROM 's3://…'``;
    PostgreSQL streams them into ``COPY … FROM STDIN``, coercing like Redshift) and records what it staged.
    Re-staging a location replaces exactly the rows staged from it before. Rejected lines (within ``max_errors``)
    are written to ``load_errors`` on every engine.

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
        rejected lines are recorded in ``load_errors``. (templated: ``"{{ params.max_errors_events }}"`` in a DAG
        that renders templates as native objects)
    :param allow_empty: accept a 0-byte object named by key as "no records" (default: it fails like a missing
        one — an empty day of logs is more likely a broken delivery than a quiet day).
    :param incremental: stage only objects that are new or changed (by ETag) since they were last staged, tracked
        per key in ``staged_objects`` in the same transaction; an unchanged source is listed, not read. With
        ``key_columns``, staged records replace staged records with the same key (a catalogue of documents);
        without, a changed object's rows replace exactly the rows staged from it before (a daily log).
    :param key_columns: with ``incremental``: the identity of a staged record, e.g. ``("song_id",)``.
    :param full_reload: with ``incremental``: empty the staging table and its tracking, and stage every object
        again. (templated, as ``max_errors``)
    :param work_bucket: the project's own bucket for what staging writes beside the data — Redshift's COPY
        manifests; never the source bucket. Needed by incremental stages on Redshift. (templated)
    :param engine_options: per-engine tuning, e.g. ``{"postgres": {"fetch_workers": 8}, "redshift":
        {"region": "us-west-2"}}``; each engine reads its own entry (see its class) and refuses unknown keys.
    :param redshift_conn_id: the warehouse connection, whichever engine serves it (the name is the course's and the
        amazon provider's); it picks the engine.
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
        if self.json_layout not in staging.LAYOUTS:
            raise InvalidArgumentError(f"json_layout must be one of {staging.LAYOUTS}, got {self.json_layout!r}")
        if not is_template(self.max_errors):
            require_type(self.max_errors, int, "max_errors", minimum=0)
        if not is_template(self.full_reload):
            require_type(self.full_reload, bool, "full_reload")
        if self.work_bucket and self.work_bucket == self.s3_bucket:
            raise InvalidArgumentError(
                f"work_bucket is the source bucket ({self.s3_bucket}): the source is read only — give the project's "
                "own bucket (the Airflow Variable sparkify_work_bucket)"
            )

    def spec(self) -> staging.StagingSpec:
        """The rendered parameters, typed (called in ``execute``, after templates are rendered)."""
        self._validate_arguments()
        return staging.StagingSpec(
            table=self.table,
            locations=(self.s3_key,) if isinstance(self.s3_key, str) else tuple(self.s3_key),
            json_paths=None if self.json_paths == "auto" else self.json_paths,
            json_layout=self.json_layout,
            max_errors=require_type(self.max_errors, int, "max_errors", minimum=0),
            contract=self.contract,
            allow_empty=self.allow_empty,
            incremental=self.incremental,
            key_columns=self.key_columns,
            full_reload=require_type(self.full_reload, bool, "full_reload"),
        )

    def execute(self, context: Context) -> dict[str, int]:
        spec = self.spec()
        engine = engines.resolve(self.redshift_conn_id, self.log)
        get_connection(self.aws_conn_id)  # a missing AWS connection fails now, naming its environment variable
        source = S3Source(self.aws_conn_id, self.s3_bucket)
        work = S3Source(self.aws_conn_id, self.work_bucket) if self.work_bucket else None
        self._lineage = Lineage(engine, outputs=[TableUse(self.table)])
        run = staging.RunRef(run_id(context), self.dag_id, self.task_id)
        staged = staging.stage(
            engine,
            spec,
            source,
            run,
            options=engine.options_for(self.engine_options),
            work=work,
            lineage=self._lineage,
            log=self.log,
        )
        self._log_staged(spec, staged, source, engine.name)
        self._lineage.outputs[0].rows = staged.result.rows
        summary = staged.summary()
        changed = staged.result.rows + staged.replaced
        extra = {**summary, "rows_replaced": staged.replaced, "run_id": run.run_id}
        assets.record_change(context, self.outlets, self.table, changed, extra, self.log)
        return summary

    def _log_staged(self, spec: staging.StagingSpec, staged: staging.Staged, source: S3Source, engine: str) -> None:
        if staged.conforming is not None:
            self.log.info(
                "shape: %s of %s objects conform to the %s contract", staged.conforming, staged.judged, spec.contract
            )
        if spec.incremental and staged.listed and not staged.read:
            self.log.info(
                "nothing to read: all %s listed objects are staged already, unchanged (same ETag)",
                f"{len(staged.listed):,}",
            )
        rejections = staged.result.rejections
        for r in rejections[:20]:
            self.log.warning("rejected %s line %s: %s", source.uri(r.s3_key), r.line_number, r.reason)
        mode = ""
        if spec.incremental:
            mode = " (full reload)" if spec.full_reload else " (incremental: new or changed objects only)"
        self.log.info(
            "staged %s rows into %s from %s of %s listed objects (%s) on %s in %.1f s; %s lines rejected%s; "
            "%s previously staged rows replaced%s",
            f"{staged.result.rows:,}",
            self.table,
            f"{len(staged.read):,}",
            f"{len(staged.listed):,}",
            _human_bytes(staged.bytes_read),
            engine,
            staged.seconds,
            f"{len(rejections):,}",
            " (recorded in load_errors)" if rejections else "",
            f"{staged.replaced:,}",
            mode,
        )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"
