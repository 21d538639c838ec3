"""JSON → Arrow tables: Arrow's fast path must stage exactly what the line-by-line path stages."""

from __future__ import annotations

import pytest

from sparkify.ingest.arrow_encoder import ArrowEncoder
from sparkify.ingest.copy_formats import CsvCopy
from sparkify.ingest.records import Column, JsonRecordReader
from tests.unit.ingest.columns import BIG, FLOAT, INT, TEXT, TS

EVENT_COLUMNS = [TEXT, Column("user_id", "character varying", 64), INT, BIG, FLOAT, TS]
EVENT_PATHS = [("song",), ("userId",), ("itemInSession",), ("sessionId",), ("length",), ("ts",)]


def encoder() -> ArrowEncoder:
    return ArrowEncoder(JsonRecordReader(EVENT_COLUMNS, EVENT_PATHS))


def csv(block) -> str:
    """A block's table as COPY (FORMAT csv) text."""
    return bytes(CsvCopy(block.table.schema).encode(block.table)).decode()


def exact(block: bytes):
    """The same block through the line-by-line path only."""
    lines = block.split(b"\n")
    return encoder().encode_records([("k", n, line, "s3://b/k") for n, line in enumerate(lines, 1)])


def test_fast_path_encodes_generated_events_exactly_like_the_line_by_line_path(tmp_path):
    from tools.datagen import generate

    generate(tmp_path, seed=3, n_songs=200, days=2, events_per_day=3000, n_users=50)
    block = next((tmp_path / "log_data").rglob("*.json")).read_bytes()
    fast = encoder().encode_lines("k", block, 1, "s3://b/k")
    slow = exact(block)
    assert fast.fast
    assert not slow.fast
    assert fast.rows == slow.rows == block.count(b"\n") > 2000
    assert fast.table.equals(slow.table)
    assert fast.rejections == slow.rejections == []
    assert [str(t) for t in fast.table.schema.types] == [
        "string",
        "string",
        "int32",
        "int64",
        "double",
        "timestamp[ms]",
        "string",
    ]  # the columns' own widths


def test_csv_keeps_quotes_backslashes_tabs_newlines_and_tells_empty_from_null():
    block = b'{"song": "a \\"b\\" \\\\ c\\td\\ne", "userId": "", "ts": 1541105830796}\n{"song": null}\n'
    fast = encoder().encode_lines("k", block, 1, "s3://b/k")
    assert fast.fast
    assert fast.table.equals(exact(block).table)
    text = csv(fast)
    first, second = text[: text.index('"s3://b/k"\n')], text.rsplit("\n", 2)[-2]
    assert first.startswith('"a ""b"" \\ c\td\ne"')  # CSV doubles quotes, keeps backslashes, tabs, newlines
    assert ',"",' in text  # '' is quoted, NULL is an empty field
    assert second == ',,,,,,"s3://b/k"'
    assert "2018-11-01 20:57:10.796" in first


@pytest.mark.parametrize(
    ("line", "value_or_reason"),
    [
        (b'{"song": 311}', '"311"'),  # a JSON number where text is expected: staged as its text
        (b'{"itemInSession": 3.0}', ",3,"),  # an integral float in an integer column
        (b'{"ts": "1541105830796"}', "2018-11-01 20:57:10.796"),  # epoch milliseconds as a string
        (b'{"song": "a\\u0000b"}', "NUL"),
        (b'{"length": NaN}', "malformed JSON"),
        (b'{"itemInSession": 2147483648}', "out of range"),
        (b'{"userId": "' + b"9" * 65 + b'"}', "exceed"),
        (b'{"song": "x"} {"song": "y"}', "malformed JSON"),
        (b'{"song": "\xff"}', "malformed JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"ts": 1e30}', "out of range"),
    ],
)
def test_lines_the_fast_path_cannot_vouch_for_take_the_exact_path(line, value_or_reason):
    block = b'{"song": "ok", "ts": 1541105830796}\n' + line + b'\n{"song": "after"}\n'
    result = encoder().encode_lines("k", block, 41, "s3://b/k")
    assert not result.fast
    if result.rejections:
        assert result.rows == 2
        [(key, line_number, reason, _)] = result.rejections
        assert (key, line_number) == ("k", 42)
        assert value_or_reason in reason
    else:
        assert result.rows == 3
        assert value_or_reason in csv(result).splitlines()[1]


def test_blank_lines_are_skipped_and_keep_their_numbers():
    result = encoder().encode_lines("k", b'{"song": "a"}\n\n  \r\n{"song": [1]}\n', 1, "s3://b/k")
    assert result.rows == 2
    assert result.rejections == []  # a list where text is expected is staged as its JSON text


def test_a_reader_of_nested_paths_has_no_fast_path_but_encodes_the_same():
    reader = JsonRecordReader([TEXT], [("a", "b")])
    assert not ArrowEncoder(reader).has_fast_path
    assert csv(ArrowEncoder(reader).encode_lines("k", b'{"a": {"b": "x"}}\n', 1, "u")) == '"x","u"\n'


def test_a_bom_is_an_error_where_it_is_not_an_object_start_even_at_a_block_start():
    bom = b"\xef\xbb\xbf"
    for block, line in ((b'{"song": "a"}\n' + bom + b'{"song": "b"}\n', 2), (bom + b'{"song": "b"}\n', 1)):
        result = encoder().encode_lines("k", block, 1, "s3://b/k")
        assert [(r.line_number, r.reason.split(":")[0]) for r in result.rejections] == [(line, "malformed JSON")]
