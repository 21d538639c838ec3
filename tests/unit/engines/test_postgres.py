"""The PostgreSQL engine's SQL and staging, with a recording cursor and an in-memory bucket."""

from __future__ import annotations

import pytest

from sparkify.engines import PostgresEngine, RejectionBudgetExceededError, StageRequest
from sparkify.ingest.records import Column
from sparkify.ingest.s3 import S3Object
from tests.pg_binary import read_rows
from tests.recording import FakeSource, RecordingCursor

ENGINE = PostgresEngine("redshift", hook=None)
COLUMNS = [Column("song", "character varying", 256), Column("item_in_session", "integer")]
LOG = "log_data/2018/11/2018-11-01-events.json"


def request(source: FakeSource, keys: list[str], **overrides) -> StageRequest:
    fields = dict(
        source=source,
        objects=[S3Object(k, k, len(source.objects[k]), '"e"') for k in keys],
        staging_table="staging_events",
        destination="staging_events",
        columns=COLUMNS,
        json_paths=None,
        json_layout="lines",
        max_errors=0,
        by_object=False,
        run_id="r",
        dag_id="d",
        task_id="t",
        options=ENGINE.options_for(None),
    )
    fields.update(overrides)
    return StageRequest(**fields)


def test_locks_and_ddl_are_postgres_own():
    assert ENGINE.lock_table("users") == 'LOCK TABLE "users" IN SHARE ROW EXCLUSIVE MODE'
    assert "PG_ADVISORY_XACT_LOCK" in ENGINE.ddl_lock()
    files = ENGINE.ddl_files()
    assert files[:2] == ["ddl/01_staging_events.sql", "ddl/02_staging_songs.sql"]
    assert files[-4:] == [
        f"postgres/ddl/{n}"
        for n in (
            "20_staging_events_ts_idx.sql",
            "21_staging_events_staged_from_idx.sql",
            "22_staging_songs_staged_from_idx.sql",
            "23_songplays_start_time_idx.sql",
        )
    ]
    assert "ddl/10_songplays.sql" in files  # the shared table, not Redshift's


def test_stages_json_lines_through_copy_from_stdin_with_their_origin():
    source = FakeSource({LOG: b'{"song": "a", "item_in_session": 1}\n{"song": "b", "item_in_session": 2}\n'})
    cur = RecordingCursor()
    result = ENGINE.stage(cur, request(source, [LOG]))
    assert (result.rows, result.rejections) == (2, [])
    assert cur.sql == ['COPY "staging_events" ("song", "item_in_session", "staged_from") FROM STDIN (FORMAT binary)']
    origin = f"s3://bucket/{LOG}"
    assert read_rows(bytes(cur.copied), ["text", "int4", "text"]) == [("a", 1, origin), ("b", 2, origin)]


def test_a_column_binary_does_not_cover_here_is_staged_through_csv():
    source = FakeSource({LOG: b'{"song": "a", "price": 1.5}\n'})
    cur = RecordingCursor()
    columns = [COLUMNS[0], Column("price", "numeric")]
    assert ENGINE.stage(cur, request(source, [LOG], columns=columns)).rows == 1
    assert cur.sql == ['COPY "staging_events" ("song", "price", "staged_from") FROM STDIN (FORMAT csv)']
    assert bytes(cur.copied).decode() == f'"a",1.5,"s3://bucket/{LOG}"\n'


def test_rejections_within_the_budget_are_returned_and_one_more_fails_naming_the_line():
    body = b'{"song": "a"}\n{"song": "b", "item_in_session": "x"}\nnot json\n{"song": "c"}\n'
    source = FakeSource({LOG: body})
    result = ENGINE.stage(RecordingCursor(), request(source, [LOG], max_errors=2))
    assert result.rows == 2
    assert [(r.s3_key, r.line_number) for r in result.rejections] == [(LOG, 2), (LOG, 3)]
    assert "invalid integer" in result.rejections[0].reason
    with pytest.raises(RejectionBudgetExceededError, match=rf"s3://bucket/{LOG} line 3: malformed JSON"):
        ENGINE.stage(RecordingCursor(), request(source, [LOG], max_errors=1))


def test_documents_record_the_object_they_came_from_when_staged_by_object():
    source = FakeSource({"song_data/A/1.json": b'{"song": "x"}', "song_data/A/2.json": b'{"song": "y"}'})
    cur = RecordingCursor()
    result = ENGINE.stage(
        cur, request(source, list(source.objects), json_layout="document", by_object=True, destination="stage_incoming")
    )
    assert result.rows == 2
    assert cur.sql[0].startswith('COPY "stage_incoming"')
    assert read_rows(bytes(cur.copied), ["text", "int4", "text"]) == [
        ("x", None, "s3://bucket/song_data/A/1.json"),
        ("y", None, "s3://bucket/song_data/A/2.json"),
    ]
