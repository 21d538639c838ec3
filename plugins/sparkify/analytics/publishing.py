"""The report built from the analytics tables and published: what ``PublishReportOperator`` runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkify import publication
from sparkify.analytics import report, tables
from sparkify.engines import Engine
from sparkify.ingest.s3 import S3Source
from sparkify.runtime import utc_now


@dataclass
class Report:
    html: str
    kpis: dict[str, Any]
    coverage: dict[str, Any]


def build_report(engine: Engine, schema: str, built_by: str, source_runs: list[str]) -> Report:
    """The page from the ``schema``'s analytics tables and the publication ledger, as the warehouse has them now."""
    coverage = tables.coverage(engine)
    answers = tables.read_answers(engine, schema=schema)
    html = report.render(
        answers,
        coverage,
        built_at=utc_now(),
        built_by=built_by,
        source_runs=source_runs,
        engine=engine.name,
        publication=publication.status(engine),
    )
    return Report(html, report.kpis(answers, coverage), coverage)


def publish(html: str, bucket: S3Source, keys: list[str], local_path: Path) -> Path:
    """Write the page to every key of ``bucket`` and to ``local_path``; return the local file."""
    for key in keys:
        bucket.write_text(key, html)
    return report.write_local(html, local_path)
