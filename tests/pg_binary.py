"""Reads PostgreSQL's binary COPY format back into Python rows, so unit tests can check what a COPY was sent.

The format (PostgreSQL docs, "COPY — Binary Format"): an 11-byte signature, a flags word and a header extension;
then per tuple a 16-bit field count and, per field, a 32-bit length (-1 for NULL) and the value in the type's
binary send format; a 16-bit -1 ends the data.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
PG_EPOCH = datetime(2000, 1, 1)
DECODERS = {
    "text": lambda b: b.decode(),
    "int2": lambda b: struct.unpack(">h", b)[0],
    "int4": lambda b: struct.unpack(">i", b)[0],
    "int8": lambda b: struct.unpack(">q", b)[0],
    "float4": lambda b: struct.unpack(">f", b)[0],
    "float8": lambda b: struct.unpack(">d", b)[0],
    "timestamp": lambda b: PG_EPOCH + timedelta(microseconds=struct.unpack(">q", b)[0]),
}


def read_rows(data: bytes, types: list[str]) -> list[tuple]:
    """The tuples of one binary COPY stream, each field decoded as ``types`` says (``text``, ``int4`` …)."""
    assert data.startswith(SIGNATURE), "not a binary COPY stream"
    flags, extension = struct.unpack_from(">ii", data, len(SIGNATURE))
    assert flags == 0
    at = len(SIGNATURE) + 8 + extension
    rows = []
    while True:
        (count,) = struct.unpack_from(">h", data, at)
        at += 2
        if count == -1:
            assert at == len(data), "bytes after the trailer"
            return rows
        assert count == len(types), f"a tuple of {count} fields, expected {len(types)}"
        row = []
        for kind in types:
            (size,) = struct.unpack_from(">i", data, at)
            at += 4
            if size == -1:
                row.append(None)
                continue
            row.append(DECODERS[kind](data[at : at + size]))
            at += size
        rows.append(tuple(row))
