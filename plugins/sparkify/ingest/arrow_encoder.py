"""JSON → Arrow tables typed like the staging table's columns (the PostgreSQL engine's hot path).

A table is written to ``COPY … FROM STDIN`` by a :mod:`~sparkify.ingest.copy_formats` format (binary or CSV).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sparkify.ingest.contracts import DocumentTally, ShapeTally, SourceContract
from sparkify.ingest.records import (
    FLOAT,
    INT_RANGES,
    INTEGER,
    TEXT,
    Column,
    JsonRecordReader,
    RejectedLine,
    Rejection,
    column_kind,
    excerpt,
    load,
)
from sparkify.ingest.s3 import BOM
from sparkify.ingest.staging_ledger import STAGED_FROM

# --------------------------------------------------------------------------------------------------------------
# The timestamps the exact path can represent (Python datetimes, years 1..9999), in epoch milliseconds.
_MIN_EPOCH_MS = -62_135_596_800_000
_MAX_EPOCH_MS = 253_402_300_799_999


@dataclass
class EncodedBlock:
    """A block of records as an Arrow table of the staging table's columns, with the lines it rejected."""

    table: Any  # a pyarrow.Table with :attr:`ArrowEncoder.schema`, or None when no line of the block is staged
    rows: int
    rejections: list[Rejection]
    fast: bool  # True when Arrow's JSON reader encoded the whole block (no line needed the exact path)
    shapes: dict[str, ShapeTally] = field(default_factory=dict)  # by unit (object or location), with a contract


class ArrowEncoder:
    """Encodes staged records as Arrow tables whose types match the staging table's columns exactly.

    Exactly: ``integer`` is int32, ``smallint`` int16, ``real`` float32 — what a binary ``COPY`` needs.

    JSON lines take a fast path when the reader maps plain top-level keys (``$['key']`` JSONPaths): Arrow's
    C++ JSON reader parses a whole block into typed columns, without holding the GIL, so blocks encode in
    parallel with each other and with the COPY. The fast path accepts a block only when the result is exactly
    what :class:`JsonRecordReader` would stage — one object per line, every value already of its column's JSON
    type, lengths, integer ranges and timestamps within bounds, valid UTF-8, no NUL, no NaN. Anything else (a
    number where text is expected, a malformed line, a blank line …) sends that block through the exact
    path, :meth:`JsonRecordReader.parse_line` line by line, which coerces like Redshift and rejects with line
    numbers. Both paths build the same table, so a value is written the same either way.

    With a source ``contract``, each block's shape is tallied too (:mod:`sparkify.ingest.contracts`). The fast
    path takes a block only when every line carries exactly the mapped keys — no unknown field (Arrow refuses
    it), and as many ``":`` as lines × keys (a null and an absent key look alike in Arrow's columns) — and then
    tallies from the columns' null counts; any other block takes the exact path, which tallies each record's keys.
    """

    def __init__(self, reader: JsonRecordReader, contract: SourceContract | None = None):
        import pyarrow as pa
        import pyarrow.json as pj

        self.reader = reader
        self.contract = contract
        # malloc, not Arrow's default mimalloc pool, which keeps freed blocks' pages and so raises peak memory.
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
                    explicit_schema=pa.schema(list(fields.items())),
                    unexpected_field_behavior="ignore" if contract is None else "error",  # unknown: exact path
                )

    @property
    def has_fast_path(self) -> bool:
        return self.json_fields is not None

    def encode_lines(self, key: str, block: bytes, first_line: int, staged_from: str) -> EncodedBlock:
        """JSON lines (a block of whole lines, the first numbered ``first_line``) → a table."""
        if self.json_fields is not None:
            fast = self._fast_lines(block, staged_from)
            if fast is not None:
                table, shape = fast
                return EncodedBlock(table, table.num_rows, [], True, {key: shape} if shape else {})
        lines = block.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        records = [(key, n, line.removesuffix(b"\r"), staged_from) for n, line in enumerate(lines, first_line)]
        return self.encode_records(records)

    def encode_documents(
        self, records: list[tuple[str, int, bytes, str]], unit_of: Callable[[str], str] | None = None
    ) -> EncodedBlock:
        """Whole objects, one JSON document each → a table; an empty object is a rejection, not a skipped line.

        ``unit_of(key)``: what the object's shape is tallied under (default: the object itself)."""
        return self.encode_records(records, blank_is_data=True, unit_of=unit_of)

    def encode_records(
        self,
        records: list[tuple[str, int, bytes, str]],
        blank_is_data: bool = False,
        unit_of: Callable[[str], str] | None = None,
    ) -> EncodedBlock:
        """``(key, line number, JSON text, staged_from)`` records → a table, one at a time by the exact path.

        Blank lines are skipped (they are not records in JSON lines) unless ``blank_is_data``."""
        rows: list[tuple] = []
        rejections: list[Rejection] = []
        row = self.reader.row
        tallies: dict[str, DocumentTally] = {}
        for key, number, text, staged_from in records:
            if not text.strip():
                if blank_is_data:
                    rejections.append(Rejection(key, number, "empty object: no JSON document", ""))
                continue
            try:
                doc = load(text)
                if self.contract is not None and type(doc) is dict:
                    unit = unit_of(key) if unit_of else key
                    tally = tallies.get(unit) or tallies.setdefault(unit, DocumentTally(self.contract))
                    tally.add(doc, key)
                rows.append((*row(doc), staged_from))
            except RejectedLine as exc:
                rejections.append(Rejection(key, number, exc.reason, excerpt(text)))
                if exc.column and self.contract is not None:
                    unit = unit_of(key) if unit_of else key
                    tally = tallies.get(unit) or tallies.setdefault(unit, DocumentTally(self.contract))
                    tally.wrong_type[exc.column] += 1
        shapes = {unit: t.tally() for unit, t in tallies.items()}
        return EncodedBlock(self.rows_to_table(rows), len(rows), rejections, False, shapes)

    def rows_to_table(self, rows: list[tuple]) -> Any:
        """Coerced rows (``JsonRecordReader.parse_line`` + ``staged_from``) → a table; None for no rows."""
        import pyarrow as pa

        if not rows:
            return None
        columns = list(zip(*rows, strict=True))
        arrays = [
            pa.array(values, type=field.type, memory_pool=self.pool)
            for values, field in zip(columns, self.schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    # ----------------------------------------------------------------------------------------------------------
    def _fast_lines(self, block: bytes, staged_from: str) -> tuple[Any, ShapeTally | None] | None:
        """The block as a table (and its shape, with a contract), or None when some line needs the exact path."""
        import pyarrow as pa
        import pyarrow.json as pj

        assert self.json_fields is not None
        pool = self.pool
        if block.startswith(BOM):  # Arrow skips a leading BOM; here it is not an object's start: an error
            return None
        if b"\\u0000" in block or b"\x00" in block:  # a NUL in a string: the exact path rejects the line
            return None
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
        shape = None
        if self.contract is not None:
            if _key_separators(block) != lines * len(self.json_fields):  # a key absent (or an extra ":)
                return None
            shape = self._fast_shape(table)
        arrays = []
        for key, column, arrow_type in zip(self.reader.keys, self.reader.columns, self.types, strict=True):
            values = self._fast_column(table.column(key), column, arrow_type)
            if values is None:
                return None
            arrays.append(values)
        arrays.append(pa.repeat(pa.scalar(staged_from, pa.string()), table.num_rows, memory_pool=pool))
        return pa.Table.from_arrays(arrays, schema=self.schema), shape

    def _fast_column(self, values: Any, column: Any, arrow_type: Any) -> Any:
        """One column as Arrow read it, checked and cast like the exact path; None when a value needs that path."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pool = self.pool
        if values.null_count == len(values):
            return pa.nulls(len(values), arrow_type)
        if pa.types.is_string(arrow_type):
            # Characters ≤ bytes: the byte lengths (from the offsets, no data read) settle almost every block.
            limit = column.max_length
            if (
                limit is not None
                and pc.max(pc.binary_length(values, memory_pool=pool)).as_py() > limit
                and pc.max(pc.utf8_length(values, memory_pool=pool)).as_py() > limit
            ):
                return None
        elif pa.types.is_integer(arrow_type) or pa.types.is_timestamp(arrow_type):
            low, high = pc.min_max(values).values()
            bound = (
                (_MIN_EPOCH_MS, _MAX_EPOCH_MS + 1)
                if pa.types.is_timestamp(arrow_type)
                else (-INT_RANGES[column.data_type], INT_RANGES[column.data_type])
            )
            if not (bound[0] <= low.as_py() and high.as_py() < bound[1]):
                return None
            if values.type != arrow_type:  # int64 → int32/int16 (in range), epoch ms → timestamp
                values = pc.cast(values, arrow_type, memory_pool=pool)
        elif not pc.all(pc.is_finite(values, memory_pool=pool)).as_py():
            return None
        return values

    def _fast_shape(self, table: Any) -> ShapeTally:
        """The shape of a block whose every line carries every mapped key: values missing from the null counts."""
        assert self.contract is not None
        n = table.num_rows
        shape = ShapeTally(records=n)
        for name in table.column_names:
            shape.carried[name] = n
        for name in self.contract.required:
            shape.missing[name] = table.column(name).null_count if name in shape.carried else n
        return shape


def _key_separators(block: bytes) -> int:
    """How many ``":`` the block holds — one per key in JSON without nesting (numpy: ~2 GB/s, GIL released)."""
    import numpy as np

    data = np.frombuffer(block, np.uint8)
    colons = np.flatnonzero(data[1:] == 58) + 1  # ':'
    return int(np.count_nonzero(data[colons - 1] == 34))  # '"'


def _validate_utf8(data: bytes, pa: Any) -> None:
    """Raise ArrowInvalid unless ``data`` is valid UTF-8 (Arrow's JSON reader does not check), without a copy."""
    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]
    pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.string())


def _arrow_type(column: Column, pa: Any) -> Any:
    """The Arrow type holding ``column``'s values at its SQL width (the coercion rules are :func:`column_kind`'s)."""
    kind = column_kind(column)
    if kind == TEXT:
        return pa.string()
    if kind == INTEGER:
        return {"smallint": pa.int16(), "integer": pa.int32()}.get(column.data_type, pa.int64())
    if kind == FLOAT:
        return pa.float32() if column.data_type == "real" else pa.float64()
    return pa.timestamp("ms")
