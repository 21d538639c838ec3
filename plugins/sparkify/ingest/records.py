"""JSON records → typed rows, the way Redshift's COPY maps and coerces them.

A :class:`JsonRecordReader` maps a JSON document onto a staging table's data columns — by JSONPaths (positional)
or ``auto`` (by column name, ignoring case) — and coerces each value to its column's type. A value that cannot
be staged raises :class:`RejectedLine` with the reason; the caller turns it into a :class:`Rejection` (object key,
line number, reason, excerpt), which the staging task either fails on or records in ``load_errors``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from sparkify.ingest.jsonpaths import extract

EPOCH = datetime(1970, 1, 1)
EXCERPT_CHARS = 200
INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
REAL_MAX = 3.4028234663852886e38  # the largest finite float32: beyond it a real would be infinite
TEXT, INTEGER, FLOAT, TIMESTAMP = "text", "integer", "float", "timestamp"  # the kinds of staging column


class RejectedLine(ValueError):
    """One input line (or object) that cannot be staged; ``reason`` says why."""

    def __init__(self, reason: str, column: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.column = column  # the column whose value could not be staged, if one


@dataclass(frozen=True)
class Column:
    """A staging-table column as the warehouse describes it (information_schema)."""

    name: str
    data_type: str  # information_schema data_type, e.g. 'character varying', 'bigint', 'timestamp ...'
    max_length: int | None = None


class Rejection(NamedTuple):
    """One input line (or object) that was not staged, as ``load_errors`` records it."""

    s3_key: str
    line_number: int
    reason: str
    excerpt: str | None


def excerpt(line: bytes) -> str:
    """The start of a rejected line, as text (at most ``EXCERPT_CHARS`` characters)."""
    return line[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]


# --------------------------------------------------------------------------------------------------------------
# Coercion to column types
# --------------------------------------------------------------------------------------------------------------
def _to_text(value: Any, column: Column) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value)  # a JSON number where text is expected loads as its text, e.g. 311 → '311'
    else:
        text = orjson.dumps(value).decode()
    if "\x00" in text:
        raise RejectedLine(f"column {column.name}: text contains a NUL character", column.name)
    if column.max_length is not None and len(text) > column.max_length:
        raise RejectedLine(
            f"column {column.name}: {len(text)} characters exceed the column's {column.max_length}", column.name
        )
    return text


def _to_int(value: Any, column: Column) -> int:
    if isinstance(value, bool):
        raise RejectedLine(f"column {column.name}: boolean where an integer is expected", column.name)
    if isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value)
    ):
        number = int(value)
    else:
        raise RejectedLine(f"column {column.name}: invalid integer {_short(value)}", column.name)
    limit = INT_RANGES.get(column.data_type, 2**63)
    if not -limit <= number < limit:
        raise RejectedLine(f"column {column.name}: {number} is out of range for {column.data_type}", column.name)
    return number


def _to_float(value: Any, column: Column) -> float:
    if isinstance(value, bool):
        raise RejectedLine(f"column {column.name}: boolean where a number is expected", column.name)
    try:
        number = float(value) if isinstance(value, (int, float, str)) else None
    except ValueError:
        number = None
    if number is None:
        raise RejectedLine(f"column {column.name}: invalid number {_short(value)}", column.name)
    if column.data_type == "real" and math.isfinite(number) and abs(number) > REAL_MAX:
        raise RejectedLine(f"column {column.name}: {_short(value)} is out of range for real", column.name)
    return number


def _to_epoch_millis(value: Any, column: Column) -> datetime:
    """TIMEFORMAT 'epochmillisecs': milliseconds since the epoch → naive UTC timestamp, exact to the ms."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        except ValueError:
            raise RejectedLine(
                f"column {column.name}: invalid epoch milliseconds {_short(value)}", column.name
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise RejectedLine(f"column {column.name}: invalid epoch milliseconds {_short(value)}", column.name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        return EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise RejectedLine(f"column {column.name}: epoch milliseconds {value} out of range", column.name) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fast(column: Column, convert: Callable[[Any, Column], Any]) -> Callable[[Any], Any]:
    """A one-argument converter with the common, already-right value returned at once."""
    if convert is _to_text:
        limit = column.max_length

        def text(value: Any) -> Any:
            if type(value) is str and (limit is None or len(value) <= limit) and "\x00" not in value:
                return value
            return _to_text(value, column)

        return text
    if convert is _to_int:
        bound = INT_RANGES.get(column.data_type, 2**63)

        def integer(value: Any) -> Any:
            if type(value) is int and -bound <= value < bound:
                return value
            return _to_int(value, column)

        return integer
    if convert is _to_float and column.data_type != "real":  # a real's range is checked by _to_float

        def number(value: Any) -> Any:
            return float(value) if type(value) in (float, int) else _to_float(value, column)

        return number
    if convert is _to_epoch_millis:

        def timestamp(value: Any) -> Any:
            if type(value) is int and -(10**14) < value < 10**14:
                return EPOCH + timedelta(milliseconds=value)
            return _to_epoch_millis(value, column)

        return timestamp
    return lambda value: convert(value, column)


def column_kind(column: Column) -> str:
    """``TEXT``, ``INTEGER``, ``FLOAT`` or ``TIMESTAMP``: how a staging column's values are coerced."""
    t = column.data_type
    if t in ("character varying", "text", "character"):
        return TEXT
    if t in ("smallint", "integer", "bigint"):
        return INTEGER
    if t in ("double precision", "real", "numeric"):
        return FLOAT
    if t.startswith("timestamp"):
        return TIMESTAMP
    raise ValueError(f"staging column {column.name} has unsupported type {t!r}")


def converter_for(column: Column) -> Callable[[Any, Column], Any]:
    """The function that coerces a JSON value to ``column``'s type, or raises :class:`RejectedLine`."""
    return {TEXT: _to_text, INTEGER: _to_int, FLOAT: _to_float, TIMESTAMP: _to_epoch_millis}[column_kind(column)]


# --------------------------------------------------------------------------------------------------------------
# Records → rows
# --------------------------------------------------------------------------------------------------------------
class JsonRecordReader:
    """Turns JSON documents into rows for ``columns``: by JSONPaths (positional) or ``auto`` (by name)."""

    def __init__(self, columns: list[Column], json_paths: list[tuple[str | int, ...]] | None):
        if json_paths is not None and len(json_paths) != len(columns):
            raise ValueError(
                f"the JSONPaths file has {len(json_paths)} expressions but the staging table has "
                f"{len(columns)} data columns ({', '.join(c.name for c in columns)})"
            )
        self.columns = columns
        # 'auto': keys match column names case-insensitively (like Redshift's 'auto ignorecase')
        self.paths = json_paths
        # The common JSONPaths case, $['key'] for every column, is a plain dict lookup (the hot path).
        self.keys = (
            [p[0] for p in json_paths]
            if json_paths is not None and all(len(p) == 1 and isinstance(p[0], str) for p in json_paths)
            else None
        )
        self.converters = [_fast(c, converter_for(c)) for c in columns]

    def row(self, doc: Any) -> tuple:
        if type(doc) is not dict:
            raise RejectedLine(f"expected a JSON object, got {type(doc).__name__}")
        if self.keys is not None:
            get = doc.get
            values = [get(k) for k in self.keys]
        elif self.paths is not None:
            values = [extract(doc, p) for p in self.paths]
        else:
            lowered = {k.lower(): v for k, v in doc.items()}
            values = [lowered.get(c.name) for c in self.columns]
        return tuple([None if v is None else conv(v) for v, conv in zip(values, self.converters, strict=True)])

    def parse_line(self, line: bytes) -> tuple:
        return self.row(load(line))


def load(line: bytes) -> Any:
    """One JSON document; malformed JSON is a :class:`RejectedLine`."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise RejectedLine(f"malformed JSON: {exc}") from None
