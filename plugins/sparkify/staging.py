"""Staging S3 objects into a warehouse staging table: what ``StageToRedshiftOperator`` runs, on any engine.

:func:`stage` lists the locations, decides which objects are pending, has the engine copy them
(:meth:`sparkify.engines.Engine.stage`) and records what it staged — in one transaction under the table's lock, so
readers see the old rows or the new ones, never a mix, and concurrent runs serialise:

* not incremental: the locations' rows are replaced wholesale;
* incremental, without key columns: only new or changed objects (by ETag, tracked in ``staged_objects``) are read,
  and each one's rows replace exactly the rows staged from it before (rows carry their origin in ``staged_from``);
* incremental, with key columns: the records land in a temporary table and replace staged records by key.

Rejected lines (within ``max_errors``) go to ``load_errors``; with a source contract, each object's shape is judged
and stored in ``source_observations`` — also when the stage fails, in a transaction of its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.engines import Engine, StageRequest, StageResult
from sparkify.ingest import contracts, staging_ledger
from sparkify.ingest.records import Column
from sparkify.ingest.s3 import MissingInputError, S3Object, S3Source
from sparkify.lineage import Lineage
from sparkify.runtime import utc_now
from sparkify.sql import chunks, delete_where_in, ident, render, replace_by_key

LAYOUTS = ("lines", "document")
KEYED_INCOMING = "stage_incoming"  # temp table: a keyed stage's records, before they replace staged ones


@dataclass(frozen=True)
class StagingSpec:
    """What to stage and how: the operator's parameters, validated and typed."""

    table: str
    locations: tuple[str, ...]  # object keys or prefixes ending in "/"
    json_paths: str | None  # key of a JSONPaths file in the bucket; None maps JSON keys to columns by name
    json_layout: str  # one of LAYOUTS
    max_errors: int
    contract: str | None = None  # include/contracts/<contract>.yaml
    allow_empty: bool = False
    incremental: bool = False
    key_columns: tuple[str, ...] = ()
    full_reload: bool = False


@dataclass(frozen=True)
class RunRef:
    """The task run a stage belongs to: it names side files and every bookkeeping row."""

    run_id: str
    dag_id: str
    task_id: str


@dataclass
class Staged:
    """What a stage did, for the log, the task's return value and the asset event."""

    result: StageResult
    listed: list[S3Object]
    read: list[S3Object]
    replaced: int
    seconds: float = 0.0
    conforming: int | None = None  # objects that conform to the contract (None: no contract)
    judged: int = 0  # objects (or locations, for documents) judged against the contract
    findings: list[contracts.Finding] = field(default_factory=list)

    @property
    def bytes_read(self) -> int:
        return sum(o.size for o in self.read)

    def summary(self) -> dict[str, int]:
        return {
            "rows_staged": self.result.rows,
            "lines_rejected": len(self.result.rejections),
            "objects_listed": len(self.listed),
            "objects_read": len(self.read),
            "bytes_read": self.bytes_read,
        }


def stage(
    engine: Engine,
    spec: StagingSpec,
    source: S3Source,
    run: RunRef,
    *,
    options: Mapping[str, Any],
    work: S3Source | None = None,
    lineage: Lineage | None = None,
    log: Any,
) -> Staged:
    """Stage ``spec`` from ``source`` into its table in one transaction; return what was staged.

    ``lineage`` (plain data) is filled in as the stage goes, so a failed stage still reports what it read.
    """
    ledger = contracts.ShapeLedger(contracts.load_contract(spec.contract)) if spec.contract else None
    started = time.monotonic()
    try:
        staged = _stage(engine, spec, source, run, options, work, ledger, lineage or Lineage(), log)
    except Exception as exc:
        if ledger is not None and ledger.units:  # the stage rolled back; what it saw of the source is kept
            _keep_shapes_after_failure(engine, spec, source, ledger, run, exc, log)
        raise
    staged.seconds = time.monotonic() - started
    return staged


def list_objects(source: S3Source, spec: StagingSpec, task_id: str) -> list[S3Object]:
    """The objects at the spec's locations; a 0-byte object named by key is refused unless ``allow_empty``."""
    listed = [obj for location in spec.locations for obj in source.objects_at(location)]
    empty = [o for o in listed if o.size == 0 and o.key == o.location]
    if empty and not spec.allow_empty:
        raise MissingInputError(
            f"empty input: the object at {source.uri(empty[0].key)} is 0 bytes (task {task_id}); the "
            "source delivered nothing for it — re-deliver it, or set allow_empty=True if empty is valid"
        )
    return listed


def _stage(
    engine: Engine,
    spec: StagingSpec,
    source: S3Source,
    run: RunRef,
    options: Mapping[str, Any],
    work: S3Source | None,
    ledger: contracts.ShapeLedger | None,
    lineage: Lineage,
    log: Any,
) -> Staged:
    listed = list_objects(source, spec, run.task_id)
    with engine.transaction() as cur:
        columns = _staging_columns(cur, spec.table)
        cur.execute(engine.lock_table(spec.table))
        pending, destination, replaced = _make_room(cur, spec, source, listed)
        lineage.read_objects(source.bucket, [o.key for o in pending], list(spec.locations))
        lineage.outputs[0].columns = [(c.name, c.data_type) for c in columns] if lineage.outputs else []
        request = _request(spec, source, run, options, work, ledger, pending, destination, columns)
        result = engine.stage(cur, request) if pending else StageResult(0)
        findings = _judge(ledger, source, lineage, log) if ledger is not None else []
        now = utc_now()
        staging_ledger.record_observations(cur, spec.table, spec.contract or "", findings, source.uri, run.run_id, now)
        staging_ledger.record_rejections(cur, spec.table, result.rejections, run.run_id, now)
        if destination == KEYED_INCOMING:
            replaced += replace_by_key(cur, spec.table, KEYED_INCOMING, spec.key_columns)[0]
            cur.execute(render(sql.SQL("DROP TABLE {}").format(ident(KEYED_INCOMING))))
        if spec.incremental:
            staging_ledger.track_objects(cur, spec.table, pending, run.run_id, now)
    conforming = sum(f.kind == contracts.CONFORMS for f in findings) if ledger is not None else None
    judged = len(ledger.units) if ledger is not None else 0
    return Staged(result, listed, pending, replaced, conforming=conforming, judged=judged, findings=findings)


def _staging_columns(cur: Any, table: str) -> list[Column]:
    try:
        return staging_ledger.staging_columns(cur, table)
    except staging_ledger.StagingTableError as exc:
        raise AirflowFailException(str(exc)) from None


def _make_room(cur: Any, spec: StagingSpec, source: S3Source, listed: list[S3Object]) -> tuple[list, str, int]:
    """Which objects to read, where their rows go, and how many staged rows they replace already."""
    if not spec.incremental:  # the locations' rows are replaced wholesale
        return listed, spec.table, forget_rows_from(cur, spec.table, [source.uri(loc) for loc in spec.locations])
    replaced = 0
    if spec.full_reload and spec.key_columns:
        cur.execute(render(sql.SQL("DELETE FROM {}").format(ident(spec.table, "table"))))
        replaced = max(cur.rowcount, 0)
        staging_ledger.forget_objects(cur, spec.table)
    pending = listed if spec.full_reload else staging_ledger.pending_objects(cur, spec.table, listed)
    if spec.key_columns:  # records land apart, then replace staged records by key
        like = sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(ident(KEYED_INCOMING), ident(spec.table, "table"))
        cur.execute(render(like))
        return pending, KEYED_INCOMING, replaced
    return pending, spec.table, forget_rows_from(cur, spec.table, [source.uri(o.key) for o in pending])


def _request(
    spec: StagingSpec,
    source: S3Source,
    run: RunRef,
    options: Mapping[str, Any],
    work: S3Source | None,
    ledger: contracts.ShapeLedger | None,
    pending: list[S3Object],
    destination: str,
    columns: list[Column],
) -> StageRequest:
    return StageRequest(
        source=source,
        objects=pending,
        staging_table=spec.table,
        destination=destination,
        columns=columns,
        json_paths=spec.json_paths,
        json_layout=spec.json_layout,
        max_errors=spec.max_errors,
        by_object=spec.incremental,
        run_id=run.run_id,
        dag_id=run.dag_id,
        task_id=run.task_id,
        options=options,
        origin_matters=not spec.key_columns,
        work=work,
        shapes=ledger,
    )


def forget_rows_from(cur: Any, table: str, origins: list[str]) -> int:
    """Delete the staged rows whose ``staged_from`` is one of ``origins``; return how many."""
    deleted = 0
    for chunk in chunks(origins, 1000):
        cur.execute(*delete_where_in(table, staging_ledger.STAGED_FROM, chunk, {}))
        deleted += max(cur.rowcount, 0)
    return deleted


def _judge(ledger: contracts.ShapeLedger, source: S3Source, lineage: Lineage, log: Any) -> list[contracts.Finding]:
    """The objects' shapes against the contract: warnings logged, a breach raised (the stage rolls back)."""
    findings = contracts.judge_ledger(ledger)
    lineage.s3_schema = contracts.observed_schema(ledger)
    for f in findings:
        if f.severity == contracts.WARN:
            log.warning("%s: %s (contract %s)", source.uri(f.unit), f.describe(), ledger.contract.name)
    if any(f.breaks for f in findings):
        raise contracts.SourceContractBreachError(contracts.breach_message(ledger.contract, findings, source.uri))
    return findings


def _keep_shapes_after_failure(
    engine: Engine,
    spec: StagingSpec,
    source: S3Source,
    ledger: contracts.ShapeLedger,
    run: RunRef,
    exc: Exception,
    log: Any,
) -> None:
    """Store the shapes a failed stage saw, in a transaction of their own (best effort: logged)."""
    findings = contracts.judge_ledger(ledger)
    if not isinstance(exc, contracts.SourceContractBreachError) and any(f.breaks for f in findings):
        log.error(
            "the objects read also break their contract: %s",
            contracts.breach_message(ledger.contract, findings, source.uri),
        )
    try:
        with engine.transaction() as cur:
            staging_ledger.record_observations(
                cur, spec.table, ledger.contract.name, findings, source.uri, run.run_id, utc_now()
            )
    except Exception as error:
        log.warning("could not record the source's shape after the failure: %s", error)
