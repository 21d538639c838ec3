"""A recording double of ``redshift_connector`` for the AWS rehearsal: first on the rehearsal's PYTHONPATH.

The amazon provider's ``RedshiftSQLHook`` connects through ``redshift_connector.connect``; in the rehearsal that
call lands here. Nothing here runs SQL: every statement is appended, with its parameters, to the JSON-lines file
named by ``SPARKIFY_WAREHOUSE_DOUBLE_LOG``, and the few queries whose answers the tasks read back (a staging
table's columns, the objects staged before, the analytics tables) get the scripted answers of the JSON file named
by ``SPARKIFY_WAREHOUSE_DOUBLE_ANSWERS``: ``{"<regex>": {"columns": [...], "rows": [[...], ...]}}``, first match
wins, matched against the statement followed by its parameters as JSON; anything else answers no rows. The
connection's arguments are recorded too (the password as its length).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

__version__ = "0-rehearsal"


class InterfaceError(Exception):
    pass


class OperationalError(Exception):
    pass


def _record(entry: dict[str, Any]) -> None:
    with open(os.environ["SPARKIFY_WAREHOUSE_DOUBLE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, default=str) + "\n")


def _answers() -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    path = os.environ.get("SPARKIFY_WAREHOUSE_DOUBLE_ANSWERS")
    if not path:
        return []
    with open(path, encoding="utf-8") as f:
        return [(re.compile(k, re.S | re.I), v) for k, v in json.load(f).items()]


class Cursor:
    def __init__(self) -> None:
        self.paramstyle = "format"
        self.description: list[tuple] = []
        self.rowcount = -1
        self._rows: list[list[Any]] = []

    def execute(self, statement: str, params: Any = None) -> Cursor:
        _record({"statement": statement, "params": params})
        self._rows, self.description, self.rowcount = [], [], -1
        if statement.strip().upper().startswith("SELECT GETDATE()"):
            self._rows, self.description = [[datetime.now(UTC).replace(tzinfo=None)]], [("getdate",)]
            return self
        text = statement + "\n" + json.dumps(params, default=str, sort_keys=True)
        for pattern, answer in _answers():
            if pattern.search(text):
                self._rows = [list(r) for r in answer.get("rows", [])]
                self.description = [(c,) for c in answer.get("columns", [])]
                self.rowcount = answer.get("rowcount", len(self._rows))
                break
        return self

    def executemany(self, statement: str, params: list[Any]) -> None:
        for p in params:
            self.execute(statement, p)

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return [tuple(r) for r in rows]

    def fetchone(self) -> tuple | None:
        return tuple(self._rows.pop(0)) if self._rows else None

    def close(self) -> None:
        pass


class Connection:
    autocommit = False

    def cursor(self) -> Cursor:
        return Cursor()

    def commit(self) -> None:
        _record({"commit": True})

    def rollback(self) -> None:
        _record({"rollback": True})

    def close(self) -> None:
        pass


def connect(**kwargs: Any) -> Connection:
    shown = {k: (f"<{len(str(v))} characters>" if k == "password" else v) for k, v in kwargs.items()}
    _record({"connect": shown})
    return Connection()
