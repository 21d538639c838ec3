"""JSON records → typed rows: mapping by name, coercion like Redshift's COPY, rejections with reasons."""

from __future__ import annotations

from datetime import datetime

import pytest

from sparkify.ingest.records import Column, JsonRecordReader, RejectedLine
from tests.unit.ingest.columns import BIG, FLOAT, INT, SHORT, TEXT, TS


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
