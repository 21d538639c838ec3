"""Arrow tables → the bytes of PostgreSQL's ``COPY … FROM STDIN``, in its binary format where the columns allow.

* :class:`BinaryCopy` — ``FORMAT binary``, encoded by pgpq (Arrow → PostgreSQL binary, in Rust). The server reads
  fixed-width integers, floats and timestamps as they are instead of parsing their text, and encoding costs less
  CPU than CSV (bench/results.md). It needs each Arrow type to be exactly the column's (int32 for ``integer``…), which
  :class:`~sparkify.ingest.arrow_encoder.ArrowEncoder` provides.
* :class:`CsvCopy` — ``FORMAT csv`` with Arrow's CSV writer, for columns binary does not cover here
  (``numeric``, ``character``, ``timestamp with time zone``): the server parses their text.

A format is used by one COPY, in order: :meth:`begin`, :meth:`encode` per table, :meth:`end`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparkify.ingest.records import Column

# SQL types whose binary form pgpq writes from the Arrow type ArrowEncoder gives them.
BINARY_TYPES = frozenset(
    {
        "character varying",
        "text",
        "smallint",
        "integer",
        "bigint",
        "real",
        "double precision",
        "timestamp without time zone",
    }
)


class BinaryCopy:
    """``COPY … (FORMAT binary)``: a header, the tuples, a trailer; pgpq buffers about 1 MiB between writes."""

    option = "binary"

    def __init__(self, schema: Any) -> None:
        from pgpq import ArrowToPostgresBinaryEncoder

        self._encoder = ArrowToPostgresBinaryEncoder(schema)

    def begin(self) -> bytes:
        return self._encoder.write_header()

    def encode(self, table: Any) -> bytes:
        return b"".join(self._encoder.write_batch(batch) for batch in table.to_batches())

    def end(self) -> bytes:
        return bytes(self._encoder.finish())


class CsvCopy:
    """``COPY … (FORMAT csv)``: strings always quoted, NULL an empty unquoted field (so '' and NULL differ)."""

    option = "csv"

    def __init__(self, schema: Any) -> None:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        self._pa, self._pcsv = pa, pcsv
        self._options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
        self._pool = pa.system_memory_pool()

    def begin(self) -> bytes:
        return b""

    def encode(self, table: Any) -> Any:
        sink = self._pa.BufferOutputStream(memory_pool=self._pool)
        self._pcsv.write_csv(table, sink, self._options, self._pool)
        return sink.getvalue()  # an Arrow buffer: no copy into a Python bytes object

    def end(self) -> bytes:
        return b""


def copy_format(columns: Sequence[Column], schema: Any) -> BinaryCopy | CsvCopy:
    """Binary when every column (``staged_from`` is text) has a binary encoding here, else CSV."""
    if all(c.data_type in BINARY_TYPES for c in columns):
        return BinaryCopy(schema)
    return CsvCopy(schema)
