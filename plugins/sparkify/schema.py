"""The warehouse schema: the engine's DDL, run idempotently (what ``CreateTablesOperator`` runs)."""

from __future__ import annotations

import time
from typing import Any

from sparkify.engines import Engine
from sparkify.sql import read_sql


def create_tables(engine: Engine, log: Any) -> int:
    """Run the engine's DDL (shared ``ddl/`` plus ``<engine>/ddl/``) in one transaction; return the count.

    Safe on every run and concurrently: each statement is ``CREATE … IF NOT EXISTS``, and an engine that needs it
    serialises them under its DDL lock (PostgreSQL: an advisory lock).
    """
    started = time.monotonic()
    files = engine.ddl_files()
    with engine.transaction() as cur:
        lock = engine.ddl_lock()
        if lock:
            cur.execute(lock)
        for path in files:
            cur.execute(read_sql(path))
    log.info("warehouse schema ensured: %s DDL statements in %.2f s", len(files), time.monotonic() - started)
    return len(files)
