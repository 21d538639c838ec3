"""Staging JSON from S3 into the warehouse: the two strategies and what they share.

* :func:`redshift_copy_sql` builds Redshift's own ``COPY … FROM 's3://…' FORMAT AS JSON …`` (production).
* :class:`JsonRecordReader` + :func:`stream_objects` stream S3 objects into PostgreSQL ``COPY … FROM STDIN``
  (the embedded default), mapping JSON to columns the way Redshift's COPY does (JSONPaths, or ``auto`` by
  column name) and coercing values to the staging table's column types.

Bad input never disappears silently: a line that cannot be parsed or coerced raises :class:`RejectedLine`,
which the operator either turns into a task failure naming the object key and line number, or — under a
``max_errors`` allowance — records in the ``load_errors`` table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

EPOCH = datetime(1970, 1, 1)
EXCERPT_CHARS = 200
STAGED_FROM = "staged_from"  # bookkeeping column of every staging table: the S3 location a row came from

_INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}


class RejectedLine(ValueError):
    """One input line (or object) that cannot be staged; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Column:
    """A staging-table column as the warehouse describes it (information_schema)."""

    name: str
    data_type: str  # information_schema data_type, e.g. 'character varying', 'bigint', 'timestamp ...'
    max_length: int | None = None


# --------------------------------------------------------------------------------------------------------------
# JSONPaths
# --------------------------------------------------------------------------------------------------------------
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


def _extract(doc: Any, path: tuple[str | int, ...]) -> Any:
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
        raise RejectedLine(f"column {column.name}: text contains a NUL character")
    if column.max_length is not None and len(text) > column.max_length:
        raise RejectedLine(f"column {column.name}: {len(text)} characters exceed the column's {column.max_length}")
    return text


def _to_int(value: Any, column: Column) -> int:
    if isinstance(value, bool):
        raise RejectedLine(f"column {column.name}: boolean where an integer is expected")
    if isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value)
    ):
        number = int(value)
    else:
        raise RejectedLine(f"column {column.name}: invalid integer {_short(value)}")
    limit = _INT_RANGES.get(column.data_type, 2**63)
    if not -limit <= number < limit:
        raise RejectedLine(f"column {column.name}: {number} is out of range for {column.data_type}")
    return number


def _to_float(value: Any, column: Column) -> float:
    if isinstance(value, bool):
        raise RejectedLine(f"column {column.name}: boolean where a number is expected")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise RejectedLine(f"column {column.name}: invalid number {_short(value)}")


def _to_epoch_millis(value: Any, column: Column) -> datetime:
    """TIMEFORMAT 'epochmillisecs': milliseconds since the epoch → naive UTC timestamp, exact to the ms."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        except ValueError:
            raise RejectedLine(f"column {column.name}: invalid epoch milliseconds {_short(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise RejectedLine(f"column {column.name}: invalid epoch milliseconds {_short(value)}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        return EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise RejectedLine(f"column {column.name}: epoch milliseconds {value} out of range") from None


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
        bound = _INT_RANGES.get(column.data_type, 2**63)

        def integer(value: Any) -> Any:
            if type(value) is int and -bound <= value < bound:
                return value
            return _to_int(value, column)

        return integer
    if convert is _to_float:

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


def converter_for(column: Column) -> Callable[[Any, Column], Any]:
    t = column.data_type
    if t in ("character varying", "text", "character"):
        return _to_text
    if t in ("smallint", "integer", "bigint"):
        return _to_int
    if t in ("double precision", "real", "numeric"):
        return _to_float
    if t.startswith("timestamp"):
        return _to_epoch_millis
    raise ValueError(f"staging column {column.name} has unsupported type {t!r}")


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
            values = [_extract(doc, p) for p in self.paths]
        else:
            lowered = {k.lower(): v for k, v in doc.items()}
            values = [lowered.get(c.name) for c in self.columns]
        return tuple([None if v is None else conv(v) for v, conv in zip(values, self.converters, strict=True)])

    def parse_line(self, line: bytes) -> tuple:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RejectedLine(f"malformed JSON: {exc}") from None
        return self.row(doc)


def excerpt(line: bytes) -> str:
    return line[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines of a byte stream split on ``\\n`` (``\\r\\n`` tolerated), holding one chunk at a time."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield pending[:-1] if pending.endswith(b"\r") else pending


def read_ahead(chunks: Iterable[bytes], depth: int = 4) -> Iterator[bytes]:
    """The chunks of a stream, read by a background thread up to ``depth`` chunks ahead.

    Network reads release the GIL, so downloading the next megabytes overlaps parsing the current ones; memory
    stays bounded by ``depth`` chunks.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def pump() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                q.put(chunk)
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=pump, name="s3-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def prefetch(items: Iterable[Any], fetch: Callable[[Any], Any], workers: int, window: int) -> Iterator[tuple]:
    """``(item, fetch(item))`` in input order, with up to ``window`` fetches in flight on ``workers`` threads."""
    pending: list = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-fetch") as pool:
        for item in items:
            pending.append((item, pool.submit(fetch, item)))
            if len(pending) >= window:
                head, future = pending.pop(0)
                yield head, future.result()
        for head, future in pending:
            yield head, future.result()


# --------------------------------------------------------------------------------------------------------------
# Redshift COPY
# --------------------------------------------------------------------------------------------------------------
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^\x00-\x1f\x7f\\']*)?$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_CREDENTIAL = re.compile(r"^[A-Za-z0-9/+=]{1,2048}$")


def _literal(value: str, pattern: re.Pattern[str], what: str) -> str:
    """A validated value as a SQL string literal (COPY takes no bind parameters)."""
    if not pattern.match(value):
        raise ValueError(f"invalid {what}: {value if what != 'credential' else '***'!r}")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class CopyCredentials:
    """How Redshift authenticates to S3: an IAM role (preferred) or keys from the AWS connection."""

    iam_role: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    def clause(self, redacted: bool) -> str:
        if self.iam_role:
            return f"IAM_ROLE {_literal(self.iam_role, _ROLE_ARN, 'IAM role ARN')}"
        if not (self.access_key_id and self.secret_access_key):
            raise ValueError("Redshift COPY needs role_arn in the AWS connection's extra, or its access keys")

        def secret(value: str) -> str:
            return "'***'" if redacted else _literal(value, _CREDENTIAL, "credential")

        text = f"ACCESS_KEY_ID {secret(self.access_key_id)} SECRET_ACCESS_KEY {secret(self.secret_access_key)}"
        if self.session_token:
            text += f" SESSION_TOKEN {secret(self.session_token)}"
        return text


def redshift_copy_sql(
    *,
    table_sql: str,
    columns_sql: str,
    s3_uri: str,
    credentials: CopyCredentials,
    region: str | None,
    json_paths_uri: str | None,
    epoch_millis: bool,
    max_errors: int,
    manifest: bool = False,
    redacted: bool = False,
) -> str:
    """Redshift ``COPY`` of JSON under ``s3_uri`` into a table (already-quoted table and column list).

    With ``redacted=True`` the credentials are replaced by ``***``: that text is what gets logged.
    """
    json_format = "'auto'" if json_paths_uri is None else _literal(json_paths_uri, _S3_URI, "JSONPaths S3 URI")
    lines = [
        f"COPY {table_sql} ({columns_sql})",
        f"FROM {_literal(s3_uri, _S3_URI, 'S3 URI')}",
        credentials.clause(redacted),
    ]
    if region:
        lines.append(f"REGION {_literal(region, _REGION, 'region')}")
    lines.append(f"FORMAT AS JSON {json_format}")
    if epoch_millis:
        lines.append("TIMEFORMAT 'epochmillisecs'")
    lines.append("STATUPDATE OFF COMPUPDATE OFF")
    if manifest:
        lines.append("MANIFEST")
    if max_errors:
        lines.append(f"MAXERROR {int(max_errors)}")
    return "\n".join(lines)
