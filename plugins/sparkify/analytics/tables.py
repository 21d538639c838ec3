"""Materialise each question's answer as a table of the ``analytics`` schema, for the report and for BI tools."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from sparkify.analytics.questions import QUESTIONS, Question
from sparkify.engines import Engine
from sparkify.sql import ident, render

SCHEMA = "analytics"


def build_tables(
    engine: Engine, questions: Sequence[Question] = QUESTIONS, schema: str = SCHEMA, log: Any = None
) -> dict[str, dict[str, float]]:
    """Replace every question's table in one transaction (readers see all old answers or all new); row counts."""
    built: dict[str, dict[str, float]] = {}
    with engine.transaction() as cur:
        lock = engine.ddl_lock()
        if lock:
            cur.execute(lock)  # concurrent builds take turns (CREATE SCHEMA IF NOT EXISTS can race)
        cur.execute(render(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(schema, "schema"))))
        for q in questions:
            started = time.monotonic()
            table = sql.Identifier(schema, q.name)
            cur.execute(render(sql.SQL("DROP TABLE IF EXISTS {}").format(table)))
            cur.execute(render(sql.SQL("CREATE TABLE {} AS ").format(table)) + engine.read_sql(q.sql_path))
            cur.execute(render(sql.SQL("SELECT COUNT(*) FROM {}").format(table)))
            built[q.name] = {"rows": cur.fetchone()[0], "seconds": round(time.monotonic() - started, 3)}
            if log:
                log.info(
                    "%s.%s: %s rows in %.2f s (%s)",
                    schema,
                    q.name,
                    f"{built[q.name]['rows']:,}",
                    built[q.name]["seconds"],
                    q.asks,
                )
    return built


def read_answers(
    engine: Engine, questions: Sequence[Question] = QUESTIONS, schema: str = SCHEMA
) -> dict[str, list[dict[str, Any]]]:
    """Every question's table as rows (column → value), in the table's order, read in one transaction."""
    answers: dict[str, list[dict[str, Any]]] = {}
    with engine.transaction() as cur:
        for q in questions:
            cur.execute(render(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, q.name))))
            columns = [d[0] for d in cur.description]
            answers[q.name] = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    return answers


def coverage(engine: Engine) -> dict[str, Any]:
    """What the answers cover: the first and last play and the totals of the star schema."""
    with engine.transaction() as cur:
        cur.execute(engine.read_sql("analytics/coverage/star_schema_coverage.sql"))
        columns = [d[0] for d in cur.description]
        return dict(zip(columns, cur.fetchone(), strict=True))
