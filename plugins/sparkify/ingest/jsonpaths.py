"""Redshift JSONPaths: the file format and the subset of path expressions Redshift's COPY accepts.

A JSONPaths file maps a JSON document onto a table's data columns by position. Both engines read it: Redshift
itself, and the PostgreSQL engine through :class:`sparkify.ingest.records.JsonRecordReader`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_PATH_TOKEN = re.compile(
    r"""\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*(\d+)\s*\]|\.([A-Za-z_][\w]*)"""
)


def parse_json_path(expression: str) -> tuple[str | int, ...]:
    """``$['a']['b']``, ``$.a.b`` or ``$['a'][0]`` → ``('a', 'b')`` etc. (the subset Redshift accepts)."""
    if not expression.startswith("$"):
        raise ValueError(f"JSONPath {expression!r} must start with '$'")
    steps: list[str | int] = []
    pos = 1
    while pos < len(expression):
        match = _PATH_TOKEN.match(expression, pos)
        if not match:
            raise ValueError(f"unsupported JSONPath {expression!r} at position {pos}")
        quoted1, quoted2, index, dotted = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(quoted1 if quoted1 is not None else quoted2 if quoted2 is not None else dotted)
        pos = match.end()
    if not steps:
        raise ValueError(f"JSONPath {expression!r} selects the whole document")
    return tuple(steps)


def parse_jsonpaths_file(content: bytes) -> list[tuple[str | int, ...]]:
    """The paths of a Redshift JSONPaths file (``{"jsonpaths": ["$['a']", ...]}``)."""
    try:
        doc = orjson.loads(content)
        paths = doc["jsonpaths"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f'not a JSONPaths file (expected {{"jsonpaths": [...]}}): {exc}') from None
    if not isinstance(paths, list) or not paths:
        raise ValueError("JSONPaths file has an empty or non-list 'jsonpaths'")
    return [parse_json_path(p) for p in paths]


def extract(doc: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(doc, list) or step >= len(doc):
                return None
        elif not isinstance(doc, dict):
            return None
        doc = doc[step] if isinstance(step, int) else doc.get(step)
        if doc is None:
            return None
    return doc
