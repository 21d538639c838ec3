"""OpenLineage for the project's operators, as the amazon and common-sql providers report theirs.

An operator records what it read and wrote while it runs (:class:`Lineage`, plain data); the OpenLineage
listener then calls ``get_openlineage_facets_on_complete`` / ``_on_failure`` (:class:`LineageMixin`), which turn
that record into datasets named by OpenLineage's conventions: S3 objects as namespace ``s3://<bucket>``, name
``<key>``; warehouse tables as namespace ``postgres://<host>:<port>`` or ``redshift://<cluster>.<region>:<port>``
(from the provider hook), name ``<database>.<schema>.<table>``. So a lineage server (Marquez, DataHub) shows
S3 → staging → star schema → analytics as one graph. Nothing here runs unless OpenLineage is configured, and the
OpenLineage imports happen only then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkify.engines import Engine
    from sparkify.quality import Check

MAX_LISTED_OBJECTS = 100  # more objects read than this: the location (prefix) stands for them


@dataclass
class TableUse:
    table: str
    schema: str = "public"
    columns: list[tuple[str, str | None]] = field(default_factory=list)  # (name, type) for the schema facet
    rows: int | None = None  # output statistics: rows written
    assertions: list[dict[str, Any]] = field(default_factory=list)  # data-quality results on this table


@dataclass
class Lineage:
    """What one task run read and wrote."""

    engine: Engine | None = None
    inputs: list[TableUse] = field(default_factory=list)
    outputs: list[TableUse] = field(default_factory=list)
    s3_inputs: list[tuple[str, str]] = field(default_factory=list)  # (bucket, key or prefix)
    s3_outputs: list[tuple[str, str]] = field(default_factory=list)
    s3_schema: list[tuple[str, str, str]] = field(default_factory=list)  # (field, type, description) read from S3
    queries: list[str] = field(default_factory=list)  # SELECTs whose tables are inputs (parsed only for lineage)

    def read_objects(self, bucket: str, keys: list[str], locations: list[str]) -> None:
        """The S3 objects read: each one, or their locations when there are many (a catalogue of songs)."""
        chosen = locations if len(keys) > MAX_LISTED_OBJECTS else keys
        self.s3_inputs = [(bucket, k) for k in chosen]


def tables_read(select_sql: str, dialect: str) -> list[TableUse]:
    """The tables a SELECT reads, by OpenLineage's SQL parser (the one the common-sql provider uses)."""
    try:
        from openlineage_sql import parse
    except ImportError:  # lineage is optional
        return []
    meta = parse([re.sub(r"%\((\w+)\)s", "NULL", select_sql)], dialect=dialect)  # bound parameters aside
    if meta is None:
        return []
    return [TableUse(t.name, t.schema or "public") for t in meta.in_tables]


def quality_lineage(engine: Engine, checks: list[Check], results: list[dict[str, Any]], stored: bool) -> Lineage:
    """The checked tables as inputs, each with its checks' results as data-quality assertions."""
    tables: dict[str, TableUse] = {}
    for check, r in zip(checks, results, strict=True):
        use = tables.setdefault(check.table or "", TableUse(check.table or ""))
        use.assertions.append(
            {
                "assertion": check.name,
                "success": r["status"] == "pass",
                "column": check.column,
                "severity": check.severity,
                "expected": check.expectation,
                "actual": None if r["observed"] is None else str(r["observed"]),
            }
        )
    outputs = [TableUse("quality_results", rows=len(results))] if stored else []
    return Lineage(engine, inputs=[u for t, u in tables.items() if t], outputs=outputs)


class LineageMixin:
    """``get_openlineage_facets_on_complete`` / ``_on_failure`` from the :class:`Lineage` the run recorded."""

    _lineage: Lineage | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return operator_lineage(self._lineage)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return operator_lineage(self._lineage)  # what it read, and (quality) which assertions failed


def operator_lineage(lineage: Lineage | None) -> Any:
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq

    if lineage is None:
        return OperatorLineage()
    namespace, database = lineage.engine.lineage_location() if lineage.engine else ("", None)

    def name(use: TableUse) -> str:
        return ".".join(p for p in (database, use.schema, use.table) if p)

    def facets(use: TableUse) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if use.columns:
            out["schema"] = SchemaDatasetFacet(
                fields=[SchemaDatasetFacetFields(name=n, type=t) for n, t in use.columns]
            )
        if use.assertions:
            out["dataQualityAssertions"] = dq.DataQualityAssertionsDatasetFacet(
                assertions=[dq.Assertion(**a) for a in use.assertions]
            )
        return out

    uses = {(u.schema, u.table): u for q in lineage.queries for u in tables_read(q, lineage.engine.name)}
    uses.update({(u.schema, u.table): u for u in lineage.inputs})  # recorded uses carry facets: they win
    inputs = [InputDataset(namespace=namespace, name=name(u), facets=facets(u)) for u in uses.values()]
    s3_facets: dict[str, Any] = {}
    if lineage.s3_schema:  # the shape the objects had (source contract + unknown fields seen)
        s3_facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=n, type=t, description=d) for n, t, d in lineage.s3_schema]
        )
    inputs += [InputDataset(namespace=f"s3://{b}", name=k, facets=s3_facets) for b, k in lineage.s3_inputs]
    outputs = [
        OutputDataset(
            namespace=namespace,
            name=name(u),
            facets=facets(u),
            outputFacets={}
            if u.rows is None
            else {"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=u.rows)},
        )
        for u in lineage.outputs
    ]
    outputs += [OutputDataset(namespace=f"s3://{b}", name=k) for b, k in lineage.s3_outputs]
    return OperatorLineage(inputs=inputs, outputs=outputs)
