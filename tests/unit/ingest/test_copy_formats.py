"""Arrow tables → COPY bytes: binary where every column allows it, CSV otherwise; the same values either way."""

from __future__ import annotations

from datetime import datetime

from sparkify.ingest.arrow_encoder import ArrowEncoder
from sparkify.ingest.copy_formats import BinaryCopy, CsvCopy, copy_format
from sparkify.ingest.records import Column, JsonRecordReader
from tests.pg_binary import read_rows
from tests.unit.ingest.columns import BIG, FLOAT, INT, TEXT, TS

SMALL = Column("status", "smallint")
REAL = Column("score", "real")
COLUMNS = [TEXT, INT, BIG, FLOAT, TS, SMALL, REAL]
PATHS = [("song",), ("item",), ("session",), ("length",), ("ts",), ("status",), ("score",)]
BLOCK = (
    b'{"song": "a \\"b\\"\\u00e9", "item": 2147483647, "session": 9007199254740993, "length": 0.1, '
    b'"ts": 1541105830796, "status": -32768, "score": 0.5}\n'
    b'{"song": "", "item": null}\n'
)


def block(fast: bool = True):
    encoder = ArrowEncoder(JsonRecordReader(COLUMNS, PATHS))
    if fast:
        return encoder.encode_lines("k", BLOCK, 1, "s3://b/k")
    lines = BLOCK.splitlines()
    return encoder.encode_records([("k", n, line, "s3://b/k") for n, line in enumerate(lines, 1)])


def binary(table) -> bytes:
    fmt = BinaryCopy(table.schema)
    return fmt.begin() + fmt.encode(table) + fmt.end()


def test_binary_copy_carries_each_value_at_its_column_width_and_tells_empty_from_null():
    for fast in (True, False):
        encoded = block(fast)
        assert encoded.fast is fast
        rows = read_rows(
            binary(encoded.table), ["text", "int4", "int8", "float8", "timestamp", "int2", "float4", "text"]
        )
        assert rows == [
            (
                'a "b"é',
                2147483647,
                9007199254740993,
                0.1,
                datetime(2018, 11, 1, 20, 57, 10, 796000),
                -32768,
                0.5,
                "s3://b/k",
            ),
            ("", None, None, None, None, None, None, "s3://b/k"),
        ]


def test_binary_is_chosen_when_every_column_has_a_binary_encoding_else_csv():
    schema = block().table.schema
    assert copy_format(COLUMNS, schema).option == "binary"
    for other in ("numeric", "character", "timestamp with time zone"):
        assert copy_format([*COLUMNS, Column("x", other)], schema).option == "csv"


def test_csv_writes_the_same_values_as_text():
    encoded = block()
    fmt = CsvCopy(encoded.table.schema)
    text = bytes(fmt.begin()) + bytes(fmt.encode(encoded.table)) + bytes(fmt.end())
    assert text.decode().splitlines() == [
        '"a ""b""é",2147483647,9007199254740993,0.1,2018-11-01 20:57:10.796,-32768,0.5,"s3://b/k"',
        '"",,,,,,,"s3://b/k"',
    ]


def test_a_real_beyond_float32_is_rejected_not_staged_as_infinity():
    encoder = ArrowEncoder(JsonRecordReader([REAL], [("score",)]))
    result = encoder.encode_lines("k", b'{"score": 1e39}\n{"score": 1.5}\n', 1, "s3://b/k")
    assert not result.fast
    assert result.rows == 1
    assert [(r.line_number, "out of range for real" in r.reason) for r in result.rejections] == [(1, True)]
