"""What the warehouse records about staging, in engine-neutral SQL (``include/sql/staging_ledger``).

* a staging table's data columns (``information_schema``), onto which JSON is mapped;
* ``staged_objects``: which S3 objects an incremental stage has loaded, by key and ETag;
* ``load_errors``: the lines a stage rejected under its ``max_errors`` allowance, on every engine;
* ``source_observations``: each staged object's shape judged against its source's contract.

Every function runs inside the caller's transaction, so the bookkeeping commits or rolls back with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sparkify.ingest.contracts import Finding
from sparkify.ingest.records import Column, Rejection
from sparkify.ingest.s3 import S3Object
from sparkify.sql import chunks, delete_where_in, insert_values, read_sql

STAGED_FROM = "staged_from"  # bookkeeping column of every staging table: the S3 location a row came from
REASON_CHARS = 1024


class StagingTableError(ValueError):
    """The staging table is missing or lacks the ``staged_from`` column."""


def staging_columns(cur: Any, table: str) -> list[Column]:
    """The data columns of a staging table, in order (every column but ``staged_from``)."""
    schema, _, name = table.rpartition(".")
    cur.execute(read_sql("staging_ledger/table_columns.sql"), {"table_schema": schema or None, "table_name": name})
    columns = [Column(n, t, m) for n, t, m in cur.fetchall()]
    if not columns:
        raise StagingTableError(f"staging table {table} does not exist in the warehouse")
    data = [c for c in columns if c.name != STAGED_FROM]
    if len(data) == len(columns):
        raise StagingTableError(f"staging table {table} has no {STAGED_FROM} column")
    return data


def pending_objects(cur: Any, table: str, listed: list[S3Object]) -> list[S3Object]:
    """The listed objects that are new, or whose ETag changed, since they were last staged into ``table``."""
    cur.execute(read_sql("staging_ledger/staged_objects.sql"), {"staging_table": table})
    staged = dict(cur.fetchall())
    return [o for o in listed if staged.get(o.key) != o.etag]


def forget_objects(cur: Any, table: str) -> None:
    """Start the tracking of ``table`` afresh (a full reload)."""
    cur.execute(read_sql("staging_ledger/forget_staged_objects.sql"), {"staging_table": table})


def track_objects(cur: Any, table: str, objects: Iterable[S3Object], run_id: str, now: datetime) -> None:
    """Record staged objects by key and ETag."""
    for chunk in chunks(objects, 1000):
        cur.execute(*delete_where_in("staged_objects", "s3_key", [o.key for o in chunk], {"staging_table": table}))
        cur.execute(
            *insert_values(
                "staged_objects",
                ["staging_table", "s3_key", "etag", "size_bytes", "run_id", "staged_at"],
                [(table, o.key, o.etag, o.size, run_id, now) for o in chunk],
            )
        )


def record_rejections(cur: Any, table: str, rejections: list[Rejection], run_id: str, now: datetime) -> None:
    """Write rejected lines to ``load_errors`` (the same record on every engine)."""
    if not rejections:
        return
    cur.executemany(
        read_sql("staging_ledger/record_load_error.sql"),
        [
            {
                "run_id": run_id,
                "staging_table": table,
                "s3_key": r.s3_key,
                "line_number": r.line_number,
                "reason": r.reason[:REASON_CHARS],
                "excerpt": r.excerpt,
                "recorded_at": now,
            }
            for r in rejections
        ],
    )


def record_observations(
    cur: Any, table: str, contract: str, findings: list[Finding], uri: Any, run_id: str, now: datetime
) -> None:
    """Write a stage's shape findings to ``source_observations`` (``uri(key)`` names the object)."""
    if not findings:
        return
    cur.executemany(
        read_sql("staging_ledger/record_source_observation.sql"),
        [
            {
                "observed_at": now,
                "run_id": run_id,
                "staging_table": table,
                "contract": contract,
                "s3_uri": uri(f.unit),
                "records": f.records,
                "field": f.field,
                "finding": f.kind,
                "affected": f.affected,
                "share": f.share,
                "severity": f.severity,
                "example": f.example and uri(f.example),
                "sampled": f.sampled,
            }
            for f in findings
        ],
    )
