"""Redshift's JSONPaths format: the path subset it accepts, and positional mapping onto columns."""

from __future__ import annotations

import pytest

from sparkify.ingest.jsonpaths import parse_json_path, parse_jsonpaths_file
from sparkify.ingest.records import Column, JsonRecordReader


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
        JsonRecordReader([Column("title", "text")], [("a",), ("b",)])
