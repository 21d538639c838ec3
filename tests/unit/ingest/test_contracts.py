"""Source contracts: declared once, measured on every record (fast and exact paths alike), judged per object."""

from __future__ import annotations

import orjson
import pytest

from sparkify.ingest import contracts
from sparkify.ingest.arrow_encoder import ArrowEncoder
from sparkify.ingest.contracts import (
    ContractFileError,
    ShapeLedger,
    SourceContract,
    judge,
    load_contract,
    parse_contract,
    sample_shapes,
)
from sparkify.ingest.jsonpaths import parse_json_path
from sparkify.ingest.records import Column, JsonRecordReader
from tests.recording import FakeSource
from tools.datagen import JSON_PATHS, LOG_FIELDS, generate

EVENTS = load_contract("log_data")
COLUMN_TYPES = {"integer": "integer", "number": "double precision", "string": "character varying"}


def event_encoder(contract: SourceContract | None = EVENTS) -> ArrowEncoder:
    columns = [
        Column(f.name.lower(), "timestamp without time zone" if f.name == "ts" else COLUMN_TYPES[f.type])
        for f in EVENTS.fields
    ]
    paths = [parse_json_path(p) for p in JSON_PATHS["jsonpaths"]]
    return ArrowEncoder(JsonRecordReader(columns, paths), contract)


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> list[bytes]:
    """A generated day of events, as lines."""
    out = tmp_path_factory.mktemp("events")
    generate(out, seed=5, n_songs=100, days=1, events_per_day=2000, n_users=40)
    return next((out / "log_data").rglob("*.json")).read_bytes().splitlines()


def reshaped(lines: list[bytes], change) -> list[bytes]:
    out = []
    for line in lines:
        doc = orjson.loads(line)
        change(doc)
        out.append(orjson.dumps(doc))
    return out


def shape_of(lines: list[bytes], encoder: ArrowEncoder | None = None):
    block = (encoder or event_encoder()).encode_lines("day.json", b"\n".join(lines) + b"\n", 1, "s3://b/day.json")
    return block, judge(EVENTS, "day.json", block.shapes["day.json"])


def summary(findings) -> set[tuple]:
    return {(f.field, f.kind, f.severity) for f in findings}


# -- the contract files ------------------------------------------------------------------------------------------
def test_the_log_contract_is_the_jsonpaths_fields_in_order_and_the_generator_writes_them():
    assert [f.name for f in EVENTS.fields] == list(LOG_FIELDS)
    assert JSON_PATHS["jsonpaths"][0] == "$['artist']"
    assert set(EVENTS.required) == {
        "auth",
        "itemInSession",
        "level",
        "method",
        "page",
        "sessionId",
        "status",
        "ts",
        "userId",
    }


def test_the_song_contract_loads():
    songs = load_contract("song_data")
    assert set(songs.optional) == {"artist_latitude", "artist_location", "artist_longitude"}
    assert songs.max_missing_share == 0.01


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"fields": {}}, "non-empty 'fields'"),
        ({"fields": {"a": {"type": "str"}}}, "type must be one of"),
        ({"fields": {"a": {"type": "string", "required": "yes"}}}, "required must be true or false"),
        ({"fields": {"a": {"type": "string", "nullable": True}}}, "unknown keys ['nullable']"),
        ({"fields": {"a": {"type": "string"}}, "max_missing_share": 2}, "max_missing_share"),
        ({"name": "other", "fields": {"a": {"type": "string"}}}, "must match its file name"),
    ],
)
def test_a_malformed_contract_is_refused_naming_what_is_wrong(doc, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_contract(doc, "events")


def test_an_unknown_contract_name_fails_listing_the_known_ones():
    with pytest.raises(ContractFileError, match=r"no source contract 'logs'.*log_data"):
        load_contract("logs")


# -- measuring ---------------------------------------------------------------------------------------------------
def test_a_conforming_day_takes_the_fast_path_and_conforms(day):
    block, findings = shape_of(day)
    assert block.fast
    assert block.shapes["day.json"].records == len(day)
    assert [(f.kind, f.records) for f in findings] == [("conforms", len(day))]


def test_fast_and_exact_paths_measure_the_same_shape(day):
    lines = day[:300] + reshaped(day[300:], lambda d: d.pop("song"))
    fast = event_encoder().encode_lines("k", b"\n".join(day) + b"\n", 1, "s3://b/k").shapes["k"]
    exact = event_encoder().encode_records([("k", n, line, "s3://b/k") for n, line in enumerate(day, 1)]).shapes["k"]
    assert (fast.records, fast.carried, +fast.missing) == (exact.records, exact.carried, +exact.missing)
    block, findings = shape_of(lines)
    assert not block.fast  # a key absent from some lines: only the exact path can tell it from a null
    assert summary(findings) == {("song", "dropped", "error")}


def test_renamed_fields_fail_naming_the_fields_and_shares_and_the_new_names_are_reported(day):
    half = len(day) // 2

    def rename(doc):
        doc["user_id"] = doc.pop("userId")
        doc["artist_name"] = doc.pop("artist")

    _, findings = shape_of(day[:half] + reshaped(day[half:], rename))
    assert summary(findings) == {
        ("userId", "missing", "error"),
        ("artist", "dropped", "error"),
        ("user_id", "unknown", "warn"),
        ("artist_name", "unknown", "warn"),
    }
    missing = next(f for f in findings if f.field == "userId")
    assert (missing.affected, missing.records) == (len(day) - half, len(day))
    message = contracts.breach_message(EVENTS, findings, lambda k: f"s3://b/{k}")
    assert "s3://b/day.json" in message
    assert f"required field userId missing in {(len(day) - half) / len(day):.1%} of {len(day):,} records" in message
    assert "unknown field user_id" in message
    assert "include/contracts/log_data.yaml" in message


def test_a_new_optional_field_warns_and_loads(day):
    block, findings = shape_of(reshaped(day, lambda d: d.update(plan="family")))
    assert summary(findings) == {("plan", "unknown", "warn")}
    assert block.rows == len(day)


def test_nulls_in_optional_fields_conform_and_nulls_in_required_ones_count_as_missing(day):
    def null(doc, field):
        doc[field] = None

    _, findings = shape_of(reshaped(day, lambda d: null(d, "location")))
    assert summary(findings) == {(None, "conforms", "ok")}
    few = reshaped(day[:5], lambda d: null(d, "page")) + day[5:]  # below the 1 % tolerance: a warning
    block, findings = shape_of(few)
    assert block.fast  # every key is there: Arrow's null counts are exact
    assert summary(findings) == {("page", "missing", "warn")}
    _, findings = shape_of(reshaped(day, lambda d: null(d, "page")))
    assert summary(findings) == {("page", "missing", "error")}


def test_a_changed_type_is_rejected_per_line_and_counted_against_its_column(day):
    def iso(doc):
        doc["ts"] = "2018-11-15T16:00:00Z"

    block, findings = shape_of(day[:10] + reshaped(day[10:20], iso))
    assert len(block.rejections) == 10
    assert {r.reason.split(":")[0] for r in block.rejections} == {"column ts"}
    assert summary(findings) == {("ts", "wrong_type", "warn")}


def test_documents_are_judged_per_location_with_an_example_object():
    songs = load_contract("song_data")
    columns = [Column(f.name, COLUMN_TYPES[f.type]) for f in songs.fields]
    encoder = ArrowEncoder(JsonRecordReader(columns, None), songs)
    doc = {f.name: (1 if f.type == "integer" else 1.5 if f.type == "number" else "x") for f in songs.fields}
    records = [(f"song_data/{i}.json", 1, orjson.dumps(doc), "s3://b/song_data/") for i in range(99)]
    records.append(("song_data/odd.json", 1, orjson.dumps({k: v for k, v in doc.items() if k != "year"}), ""))
    block = encoder.encode_documents(records, lambda key: "song_data/")
    (finding,) = judge(songs, "song_data/", block.shapes["song_data/"])
    assert (finding.field, finding.kind, finding.severity, finding.example) == (
        "year",
        "missing",
        "warn",
        "song_data/odd.json",
    )


def test_without_a_contract_nothing_is_measured(day):
    block = event_encoder(None).encode_lines("k", b"\n".join(day) + b"\n", 1, "s3://b/k")
    assert block.fast
    assert block.shapes == {}


def test_sampling_reads_head_and_tail_so_a_change_late_in_the_day_is_seen(day):
    from sparkify.ingest.s3 import S3Object

    late = day[:-200] + reshaped(day[-200:], lambda d: d.update(user_id=d.pop("userId")))
    body = b"\n".join(late) + b"\n"
    source = FakeSource({"day.json": body})
    ledger = ShapeLedger(EVENTS)
    obj = S3Object("day.json", "day.json", len(body), "etag")
    read = sample_shapes(source, [obj], ledger, lambda o: o.key, lines=True, sample_bytes=20_000, max_documents=0)
    assert source.ranges == [("day.json", "bytes=0-19999"), ("day.json", "bytes=-20000")]
    assert read < 40_000 < len(body)
    tally = ledger.units["day.json"]
    assert tally.sampled
    assert 0 < tally.records < len(late)
    assert ("userId", "missing", "error") in summary(judge(EVENTS, "day.json", tally))
