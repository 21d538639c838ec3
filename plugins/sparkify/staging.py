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


# --------------------------------------------------------------------------------------------------------------
# Rows → CSV for COPY … FROM STDIN (FORMAT csv)
# --------------------------------------------------------------------------------------------------------------
# The timestamps the exact path can represent (Python datetimes, years 1..9999), in epoch milliseconds.
_MIN_EPOCH_MS = -62_135_596_800_000
_MAX_EPOCH_MS = 253_402_300_799_999


@dataclass
class EncodedBlock:
    """A block of records encoded as CSV for COPY, with the lines it rejected ``(key, line, reason, excerpt)``."""

    csv: Any  # bytes-like (a bytes or an Arrow buffer), written to COPY as it is
    rows: int
    rejections: list[tuple[str, int, str, str]]
    fast: bool  # True when Arrow's JSON reader encoded the whole block (no line needed the exact path)


class CsvEncoder:
    """Encodes staged records as CSV for ``COPY … FROM STDIN (FORMAT csv)``, with Arrow's CSV writer.

    JSON lines take a fast path when the reader maps plain top-level keys (``$['key']`` JSONPaths): Arrow's
    C++ JSON reader parses a whole block into typed columns, without holding the GIL, so blocks encode in
    parallel with each other and with the COPY. The fast path accepts a block only when the result is exactly
    what :class:`JsonRecordReader` would stage — one object per line, every value already of its column's JSON
    type, lengths, integer ranges and timestamps within bounds, valid UTF-8, no NUL, no NaN. Anything else (a
    number where text is expected, a malformed line, a blank line …) sends that block through the exact
    path, :meth:`JsonRecordReader.parse_line` line by line, which coerces like Redshift and rejects with line
    numbers. Both paths write through the same CSV writer, so a value is formatted the same either way.
    """

    def __init__(self, reader: JsonRecordReader):
        import pyarrow as pa
        import pyarrow.json as pj

        self.reader = reader
        # malloc, not Arrow's default mimalloc pool, which keeps freed blocks' pages: staging a 1 GB object
        # peaked at 322 MiB RSS with mimalloc, 260 MiB with malloc.
        self.pool = pa.system_memory_pool()
        self.types = [_arrow_type(c, pa) for c in reader.columns]
        self.schema = pa.schema([*zip([c.name for c in reader.columns], self.types, strict=True)])
        self.schema = self.schema.append(pa.field(STAGED_FROM, pa.string()))
        keys = reader.keys
        # One JSON field per key: two columns may read the same key only if they read it as the same type.
        self.json_fields: dict[str, Any] | None = None
        if keys is not None:
            fields: dict[str, Any] = {}
            for key, column, arrow_type in zip(keys, reader.columns, self.types, strict=True):
                json_type = pa.int64() if column.data_type.startswith("timestamp") else arrow_type
                if fields.setdefault(key, json_type) != json_type:
                    break
            else:
                self.json_fields = fields
                self.parse_options = pj.ParseOptions(
                    explicit_schema=pa.schema(list(fields.items())), unexpected_field_behavior="ignore"
                )

    @property
    def has_fast_path(self) -> bool:
        return self.json_fields is not None

    def encode_lines(self, key: str, block: bytes, first_line: int, staged_from: str) -> EncodedBlock:
        """JSON lines (a block of whole lines, the first numbered ``first_line``) → CSV."""
        if self.json_fields is not None:
            csv = self._fast_lines(block, staged_from)
            if csv is not None:
                return EncodedBlock(csv[0], csv[1], [], True)
        lines = block.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        records = [(key, n, line.removesuffix(b"\r"), staged_from) for n, line in enumerate(lines, first_line)]
        return self.encode_records(records)

    def encode_records(self, records: list[tuple[str, int, bytes, str]]) -> EncodedBlock:
        """``(key, line number, JSON text, staged_from)`` records → CSV, one at a time by the exact path."""
        rows: list[tuple] = []
        rejections: list[tuple[str, int, str, str]] = []
        parse = self.reader.parse_line
        for key, number, text, staged_from in records:
            if not text.strip():
                continue
            try:
                rows.append((*parse(text), staged_from))
            except RejectedLine as exc:
                rejections.append((key, number, exc.reason, excerpt(text)))
        return EncodedBlock(self.rows_to_csv(rows), len(rows), rejections, False)

    def rows_to_csv(self, rows: list[tuple]) -> Any:
        import pyarrow as pa

        if not rows:
            return b""
        columns = list(zip(*rows, strict=True))
        arrays = [
            pa.array(values, type=field.type, memory_pool=self.pool)
            for values, field in zip(columns, self.schema, strict=True)
        ]
        return self._csv(pa.Table.from_arrays(arrays, schema=self.schema))

    # ----------------------------------------------------------------------------------------------------------
    def _fast_lines(self, block: bytes, staged_from: str) -> tuple[Any, int] | None:
        """``(csv, rows)``, or None when some line needs the exact path."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.json as pj

        assert self.json_fields is not None
        pool = self.pool
        lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        try:
            _validate_utf8(block, pa)
            table = pj.read_json(
                pa.BufferReader(block),
                read_options=pj.ReadOptions(use_threads=False, block_size=max(len(block), 1 << 16) + 1),
                parse_options=self.parse_options,
                memory_pool=self.pool,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != lines:  # a blank line, or several objects on one line
            return None
        arrays = []
        for key, column, arrow_type in zip(self.reader.keys, self.reader.columns, self.types, strict=True):
            values = table.column(key)
            if values.null_count == len(values):
                arrays.append(pa.nulls(len(values), arrow_type))
                continue
            if pa.types.is_string(arrow_type):
                if pc.any(pc.match_substring(values, "\x00", memory_pool=pool)).as_py():
                    return None
                lengths = pc.utf8_length(values, memory_pool=pool) if column.max_length is not None else None
                if lengths is not None and pc.max(lengths).as_py() > column.max_length:
                    return None
            elif pa.types.is_integer(arrow_type) or pa.types.is_timestamp(arrow_type):
                low, high = pc.min_max(values).values()
                bound = (
                    (_MIN_EPOCH_MS, _MAX_EPOCH_MS + 1)
                    if pa.types.is_timestamp(arrow_type)
                    else (-_INT_RANGES[column.data_type], _INT_RANGES[column.data_type])
                )
                if not (bound[0] <= low.as_py() and high.as_py() < bound[1]):
                    return None
                if pa.types.is_timestamp(arrow_type):
                    values = pc.cast(values, arrow_type, memory_pool=pool)
            elif not pc.all(pc.is_finite(values, memory_pool=pool)).as_py():
                return None
            arrays.append(values)
        arrays.append(pa.repeat(pa.scalar(staged_from, pa.string()), table.num_rows, memory_pool=pool))
        return self._csv(pa.Table.from_arrays(arrays, schema=self.schema)), table.num_rows

    def _csv(self, table: Any) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        sink = pa.BufferOutputStream(memory_pool=self.pool)
        # Strings are always quoted, NULL is an empty unquoted field: COPY (FORMAT csv) tells '' from NULL.
        pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False, quoting_style="needed"), self.pool)
        return sink.getvalue()  # an Arrow buffer: no copy into a Python bytes object


def _validate_utf8(data: bytes, pa: Any) -> None:
    """Raise ArrowInvalid unless ``data`` is valid UTF-8 (Arrow's JSON reader does not check), without a copy."""
    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]
    pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.string())


def _arrow_type(column: Column, pa: Any) -> Any:
    convert = converter_for(column)
    if convert is _to_text:
        return pa.string()
    if convert is _to_int:
        return pa.int64()
    if convert is _to_float:
        return pa.float64()
    return pa.timestamp("ms")


def line_blocks(chunks: Iterable[bytes], size: int) -> Iterator[tuple[int, bytes]]:
    """``(number of the first line, block)``: a byte stream cut into blocks of whole lines of about ``size``."""
    parts: list[bytes] = []
    held = 0
    first_line = 1
    for chunk in chunks:
        parts.append(chunk)
        held += len(chunk)
        if held < size:
            continue
        data = b"".join(parts)
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a block: keep reading
            parts = [data]
            continue
        yield first_line, data[:cut]
        first_line += data.count(b"\n", 0, cut)
        parts = [data[cut:]] if cut < len(data) else []
        held = len(data) - cut
    if held:
        yield first_line, b"".join(parts)


def excerpt(line: bytes) -> str:
    return line[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]


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
