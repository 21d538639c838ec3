"""Unit tests of the staging building blocks: JSONPaths, coercion, CSV encoding, line blocks, Redshift COPY."""

from __future__ import annotations

from datetime import datetime

import pytest

from sparkify.staging import (
    Column,
    CopyCredentials,
    CsvEncoder,
    JsonRecordReader,
    RejectedLine,
    line_blocks,
    parse_json_path,
    parse_jsonpaths_file,
    prefetch,
    redshift_copy_sql,
)

TEXT = Column("title", "character varying", 65535)
SHORT = Column("level", "character varying", 4)
INT = Column("item_in_session", "integer")
BIG = Column("session_id", "bigint")
FLOAT = Column("length", "double precision")
TS = Column("ts", "timestamp without time zone")


@pytest.mark.parametrize(
    ("expression", "steps"),
    [
        ("$['artist']", ("artist",)),
        ('$["userId"]', ("userId",)),
        ("$.a.b", ("a", "b")),
        ("$['a'][0]['b']", ("a", 0, "b")),
    ],
)
def test_json_path_parsing(expression, steps):
    assert parse_json_path(expression) == steps


@pytest.mark.parametrize("bad", ["artist", "$", "$[?(@.a)]", "$..a"])
def test_json_path_rejects_what_redshift_rejects(bad):
    with pytest.raises(ValueError, match="JSONPath"):
        parse_json_path(bad)


def test_jsonpaths_file_maps_positionally():
    paths = parse_jsonpaths_file(b'{"jsonpaths": ["$[\'b\']", "$[\'a\']"]}')
    reader = JsonRecordReader([Column("x", "text"), Column("y", "text")], paths)
    assert reader.parse_line(b'{"a": "A", "b": "B"}') == ("B", "A")


def test_jsonpaths_count_must_match_columns():
    with pytest.raises(ValueError, match="2 expressions but the staging table has 1"):
        JsonRecordReader([TEXT], [("a",), ("b",)])


def test_auto_mapping_is_by_column_name_ignoring_case():
    reader = JsonRecordReader([Column("artist_id", "text"), Column("year", "integer")], None)
    assert reader.parse_line(b'{"ARTIST_ID": "AR1", "year": 1999, "extra": 1}') == ("AR1", 1999)
    assert reader.parse_line(b"{}") == (None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(311, "311"), (4.6, "4.6"), (True, "true"), ("tab\there", "tab\there"), ("\\N", "\\N"), ("Beyoncé", "Beyoncé")],
)
def test_text_columns_take_numbers_as_text_and_keep_every_character(value, expected):
    assert JsonRecordReader([TEXT], [("v",)]).row({"v": value}) == (expected,)


def test_integers_accept_integral_floats_and_numeric_strings():
    reader = JsonRecordReader([INT, BIG], [("a",), ("b",)])
    assert reader.row({"a": 3.0, "b": "1541016707796"}) == (3, 1541016707796)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (INT, 1.5, "invalid integer"),
        (INT, "x", "invalid integer"),
        (INT, 2**31, "out of range"),
        (INT, True, "boolean"),
        (FLOAT, "abc", "invalid number"),
        (SHORT, "premium", "exceed"),
        (TEXT, "a\x00b", "NUL"),
        (TS, "yesterday", "epoch milliseconds"),
    ],
)
def test_values_that_do_not_fit_are_rejected_with_a_reason(column, value, reason):
    with pytest.raises(RejectedLine, match=reason):
        JsonRecordReader([column], [("v",)]).row({"v": value})


def test_epoch_milliseconds_become_exact_utc_timestamps():
    reader = JsonRecordReader([TS], [("ts",)])
    assert reader.row({"ts": 1541105830796}) == (datetime(2018, 11, 1, 20, 57, 10, 796000),)
    assert reader.row({"ts": 1541105830796.0}) == (datetime(2018, 11, 1, 20, 57, 10, 796000),)


def test_malformed_json_and_non_objects_are_rejected():
    reader = JsonRecordReader([TEXT], [("v",)])
    with pytest.raises(RejectedLine, match="malformed JSON"):
        reader.parse_line(b'{"v": "unterminated')
    with pytest.raises(RejectedLine, match="expected a JSON object"):
        reader.parse_line(b"[1, 2]")


def test_read_ahead_yields_every_chunk_in_order_and_passes_errors_on():
    from sparkify.staging import read_ahead

    assert list(read_ahead(iter([b"a", b"b", b"c"] * 100), depth=2)) == [b"a", b"b", b"c"] * 100

    def broken():
        yield b"x"
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        list(read_ahead(broken()))


def test_prefetch_keeps_input_order():
    assert [r for _, r in prefetch(range(50), lambda i: i * i, workers=4, window=6)] == [i * i for i in range(50)]


# ------------------------------------------------------------------------------------------------------------------
# CSV for COPY: Arrow's fast path must stage exactly what the line-by-line path stages
# ------------------------------------------------------------------------------------------------------------------
EVENT_COLUMNS = [TEXT, Column("user_id", "character varying", 64), INT, BIG, FLOAT, TS]
EVENT_PATHS = [("song",), ("userId",), ("itemInSession",), ("sessionId",), ("length",), ("ts",)]


def encoder() -> CsvEncoder:
    return CsvEncoder(JsonRecordReader(EVENT_COLUMNS, EVENT_PATHS))


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
    assert bytes(fast.csv) == bytes(slow.csv)
    assert fast.rejections == slow.rejections == []


def test_csv_keeps_quotes_backslashes_tabs_newlines_and_tells_empty_from_null():
    block = b'{"song": "a \\"b\\" \\\\ c\\td\\ne", "userId": "", "ts": 1541105830796}\n{"song": null}\n'
    fast = encoder().encode_lines("k", block, 1, "s3://b/k")
    assert fast.fast
    assert bytes(fast.csv) == bytes(exact(block).csv)
    text = bytes(fast.csv).decode()
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
        assert value_or_reason in bytes(result.csv).decode().splitlines()[1]


def test_blank_lines_are_skipped_and_keep_their_numbers():
    result = encoder().encode_lines("k", b'{"song": "a"}\n\n  \r\n{"song": [1]}\n', 1, "s3://b/k")
    assert result.rows == 2
    assert result.rejections == []  # a list where text is expected is staged as its JSON text


def test_line_blocks_cut_at_newlines_and_number_the_first_line():
    chunks = [b"a\nbb\ncc", b"c\ndddd", b"dddd\ne\n", b"f"]
    blocks = list(line_blocks(chunks, size=4))
    assert b"".join(b for _, b in blocks) == b"".join(chunks)
    assert all(b.endswith(b"\n") for _, b in blocks[:-1])
    for first, block in blocks:
        assert b"".join(chunks).split(b"\n")[first - 1] == block.split(b"\n")[0]


def test_a_reader_of_nested_paths_has_no_fast_path_but_encodes_the_same():
    reader = JsonRecordReader([TEXT], [("a", "b")])
    assert not CsvEncoder(reader).has_fast_path
    assert bytes(CsvEncoder(reader).encode_lines("k", b'{"a": {"b": "x"}}\n', 1, "u").csv) == b'"x","u"\n'


# ------------------------------------------------------------------------------------------------------------------
# Redshift COPY
# ------------------------------------------------------------------------------------------------------------------
def copy_kwargs(**overrides):
    kwargs = dict(
        table_sql='"stage_incoming"',
        columns_sql='"artist", "ts"',
        s3_uri="s3://udacity-dend/log_data/2018/11/2018-11-15-events.json",
        credentials=CopyCredentials(iam_role="arn:aws:iam::123456789012:role/dwhRole"),
        region="us-west-2",
        json_paths_uri="s3://udacity-dend/log_json_path.json",
        epoch_millis=True,
        max_errors=0,
    )
    kwargs.update(overrides)
    return kwargs


def test_copy_with_jsonpaths_role_and_epochmillis():
    text = redshift_copy_sql(**copy_kwargs())
    assert text.splitlines() == [
        'COPY "stage_incoming" ("artist", "ts")',
        "FROM 's3://udacity-dend/log_data/2018/11/2018-11-15-events.json'",
        "IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'",
        "REGION 'us-west-2'",
        "FORMAT AS JSON 's3://udacity-dend/log_json_path.json'",
        "TIMEFORMAT 'epochmillisecs'",
        "STATUPDATE OFF COMPUPDATE OFF",
    ]


def test_copy_auto_with_max_errors():
    text = redshift_copy_sql(**copy_kwargs(json_paths_uri=None, max_errors=5, epoch_millis=False))
    assert "FORMAT AS JSON 'auto'" in text
    assert "MAXERROR 5" in text
    assert "TIMEFORMAT" not in text


def test_copy_of_exact_keys_through_a_manifest():
    text = redshift_copy_sql(
        **copy_kwargs(s3_uri="s3://bucket/sparkify-manifests/sparkify_etl/run/stage_songs.manifest", manifest=True)
    )
    assert "FROM 's3://bucket/sparkify-manifests/sparkify_etl/run/stage_songs.manifest'" in text
    assert text.splitlines()[-1] == "MANIFEST"


def test_copy_key_credentials_are_redacted_in_the_logged_text():
    creds = CopyCredentials(access_key_id="AKIDEXAMPLE", secret_access_key="s3cr3t/Key+=", session_token="tok")
    real = redshift_copy_sql(**copy_kwargs(credentials=creds))
    logged = redshift_copy_sql(**copy_kwargs(credentials=creds), redacted=True)
    assert "SECRET_ACCESS_KEY 's3cr3t/Key+='" in real
    for secret in ("s3cr3t", "AKIDEXAMPLE", "tok'"):
        assert secret not in logged
    assert "ACCESS_KEY_ID '***' SECRET_ACCESS_KEY '***' SESSION_TOKEN '***'" in logged


@pytest.mark.parametrize(
    "overrides",
    [
        {"s3_uri": "s3://bucket/it's'; DROP TABLE users; --"},
        {"s3_uri": "https://example.com/x"},
        {"region": "us-west-2'; --"},
        {"credentials": CopyCredentials(iam_role="arn:aws:iam::1:role/x")},
        {"credentials": CopyCredentials()},
    ],
)
def test_copy_refuses_values_that_are_not_what_they_claim(overrides):
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        redshift_copy_sql(**copy_kwargs(**overrides))


def test_generated_copy_parses_as_redshift_sql():
    import sqlfluff

    for kwargs in (copy_kwargs(), copy_kwargs(json_paths_uri=None, max_errors=10, manifest=True)):
        text = redshift_copy_sql(**kwargs)
        parsed = sqlfluff.parse(text, dialect="redshift")
        assert "unparsable" not in str(parsed), text
