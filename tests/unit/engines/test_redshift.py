"""The Redshift engine without Redshift: the SQL it sends (parsed as Redshift SQL), the manifest it writes, the
rejections it reads back, its DDL, and COPY text that never logs a secret."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import sqlfluff
from airflow.sdk.exceptions import AirflowFailException

from sparkify.engines import RedshiftEngine, StageRequest
from sparkify.engines.redshift import CopyCredentials, driver_arguments, redshift_copy_sql
from sparkify.ingest.contracts import ShapeLedger, load_contract
from sparkify.ingest.records import Column
from sparkify.ingest.s3 import S3Object
from sparkify.sql import SQL_DIR
from tests.recording import FakeSource, FakeTransactionHook, RecordingCursor

ROLE = "arn:aws:iam::123456789012:role/dwhRole"
COLUMNS = [Column("song_id", "character varying", 64), Column("title", "character varying", 65535)]
SONGS = [f"song_data/A/B/C/TRABC{i}.json" for i in range(3)]


def engine(host: str = "dwh.abc123.us-west-2.redshift.amazonaws.com", cursor=None) -> RedshiftEngine:
    hook = FakeTransactionHook(cursor or RecordingCursor(), SimpleNamespace(host=host, extra_dejson={}))
    return RedshiftEngine("redshift", hook)


def request(source, keys, **overrides) -> StageRequest:
    fields = dict(
        source=source,
        objects=[S3Object("song_data/", k, 2, '"e"') for k in keys],
        staging_table="staging_songs",
        destination="stage_incoming",
        columns=COLUMNS,
        json_paths=None,
        json_layout="document",
        max_errors=0,
        by_object=True,
        run_id="scheduled__2018-11-15T16:00:00+00:00",
        dag_id="sparkify_etl",
        task_id="stage_songs",
        options=RedshiftEngine.stage_options,
        origin_matters=False,
        work=FakeSource({}, bucket="work"),
    )
    fields.update(overrides)
    return StageRequest(**fields)


def parse_redshift(statement: str) -> None:
    parsed = sqlfluff.parse(statement.replace("%(staged_from)s", "'s3://x/y'"), dialect="redshift")
    assert "unparsable" not in str(parsed), statement


def test_incremental_copy_reads_exactly_the_pending_keys_through_a_run_specific_manifest():
    source = FakeSource({k: b"{}" for k in SONGS}, role_arn=ROLE)
    work = FakeSource({}, bucket="work")
    cur = RecordingCursor()
    result = engine().stage(cur, request(source, [SONGS[0], SONGS[2]], work=work))
    assert (result.rows, result.rejections) == (7, [])
    manifest_key = "sparkify-manifests/sparkify_etl/scheduled__2018-11-15T16_00_00_00_00/stage_songs.manifest"
    assert source.written == {}  # the source is never written to
    assert json.loads(work.written[manifest_key]) == {
        "entries": [
            {"url": f"s3://bucket/{SONGS[0]}", "mandatory": True},
            {"url": f"s3://bucket/{SONGS[2]}", "mandatory": True},
        ]
    }
    assert cur.sql[0] == 'CREATE TEMP TABLE "stage_copy" (LIKE "staging_songs")'
    assert cur.sql[1].splitlines() == [
        'COPY "stage_copy" ("song_id", "title")',
        f"FROM 's3://work/{manifest_key}'",
        f"IAM_ROLE '{ROLE}'",
        "REGION 'us-west-2'",
        "FORMAT AS JSON 'auto'",
        "TIMEFORMAT 'epochmillisecs'",
        "STATUPDATE OFF COMPUPDATE OFF",
        "MANIFEST",
    ]
    assert cur.statements[2] == (
        'INSERT INTO "stage_incoming" ("song_id", "title", "staged_from") '
        'SELECT "song_id", "title", %(staged_from)s FROM "stage_copy"',
        {"staged_from": f"s3://work/{manifest_key}"},
    )
    assert cur.sql[3:] == ['DELETE FROM "stage_copy"', 'DROP TABLE "stage_copy"']
    for statement in cur.sql:
        parse_redshift(statement)


def test_a_log_staged_by_object_records_each_object_as_the_origin_of_its_rows():
    """Each new version of a day's log replaces exactly its rows: one manifest (and COPY) per object."""
    logs = ["log_data/2018/11/2018-11-01-events.json", "log_data/2018/11/2018-11-02-events.json"]
    source, work = FakeSource({k: b"{}" for k in logs}, role_arn=ROLE), FakeSource({}, bucket="work")
    cur = RecordingCursor()
    engine().stage(
        cur,
        request(
            source,
            logs,
            staging_table="staging_events",
            destination="staging_events",
            origin_matters=True,
            task_id="stage_events",
            work=work,
        ),
    )
    manifests = sorted(work.written)
    assert [json.loads(work.written[m])["entries"][0]["url"] for m in manifests] == [f"s3://bucket/{k}" for k in logs]
    inserts = [p for s, p in cur.statements if s.startswith('INSERT INTO "staging_events"')]
    assert inserts == [{"staged_from": f"s3://bucket/{k}"} for k in logs]


def test_with_a_contract_the_worker_measures_a_sample_before_the_copy_reads_the_objects():
    """COPY reads the objects, not the worker: it reads the documents (up to a limit), and of a log only its head
    and tail, and tallies their shapes for the operator to judge."""
    songs = {k: json.dumps({"song_id": "S", "title": "T", "year": 2000}).encode() for k in SONGS}
    source = FakeSource(songs, role_arn=ROLE)
    ledger = ShapeLedger(load_contract("song_data"))
    options = {**RedshiftEngine.stage_options, "shape_sample_documents": 2}
    engine().stage(RecordingCursor(), request(source, SONGS, shapes=ledger, options=options))
    assert source.reads == SONGS[:2]
    (tally,) = ledger.units.values()
    assert (tally.records, tally.sampled, tally.missing["artist_id"]) == (2, True, 2)

    day = b"".join(b'{"ts": %d}\n' % i for i in range(300_000))  # 4 MB: more than head + tail
    log = "log_data/2018/11/2018-11-15-events.json"
    source = FakeSource({log: day}, role_arn=ROLE)
    ledger = ShapeLedger(load_contract("log_data"))
    logs = request(
        source,
        [],
        json_layout="lines",
        staging_table="staging_events",
        destination="staging_events",
        origin_matters=True,
        task_id="stage_events",
        shapes=ledger,
        objects=[S3Object(log, log, len(day), '"e"')],
    )
    engine().stage(RecordingCursor(), logs)
    assert source.reads == []
    assert source.ranges == [(log, "bytes=0-1048575"), (log, "bytes=-1048576")]
    assert 0 < ledger.units[log].records < 300_000


def test_copy_reads_as_the_role_the_warehouse_connection_names_before_the_aws_connection_role():
    """Two principals: the tasks' (the AWS connection's role) and the one Redshift assumes (copy_role_arn)."""
    copy_role = "arn:aws:iam::123456789012:role/sparkify-redshift-copy"
    hook = FakeTransactionHook(
        RecordingCursor(),
        SimpleNamespace(host="dwh.abc.us-west-2.redshift.amazonaws.com", extra_dejson={"copy_role_arn": copy_role}),
    )
    cur = RecordingCursor()
    RedshiftEngine("redshift", hook).stage(cur, request(FakeSource({SONGS[0]: b"{}"}, role_arn=ROLE), SONGS[:1]))
    assert f"IAM_ROLE '{copy_role}'" in cur.sql[1]


def test_copy_region_is_the_source_bucket_own_and_a_work_bucket_elsewhere_is_refused():
    source = FakeSource({SONGS[0]: b"{}"}, role_arn=ROLE, region="eu-west-1")
    cur = RecordingCursor()
    engine().stage(cur, request(source, SONGS[:1], by_object=False, destination="staging_songs"))
    assert "REGION 'eu-west-1'" in cur.sql[1]
    with pytest.raises(AirflowFailException, match="source bucket bucket is in eu-west-1 but the work bucket work is"):
        engine().stage(RecordingCursor(), request(source, SONGS[:1]))


def test_an_incremental_copy_without_a_work_bucket_says_what_to_give():
    with pytest.raises(AirflowFailException, match="work_bucket="):
        engine().stage(RecordingCursor(), request(FakeSource({SONGS[0]: b"{}"}), SONGS[:1], work=None))


def test_the_driver_gets_the_iam_password_and_none_of_the_project_or_hook_extras():
    extra = {
        "iam": True,
        "cluster_identifier": "dwh",
        "copy_role_arn": "arn:x",
        "engine": "redshift",
        "sslmode": "verify-full",
    }
    conn = SimpleNamespace(
        host="dwh.abc.us-west-2.redshift.amazonaws.com",
        port=5439,
        schema="dev",
        login="airflow_etl",
        password=None,
        extra_dejson=extra,
    )
    hook = SimpleNamespace(
        get_conn_id=lambda: "redshift",
        get_connection=lambda _: conn,
        aws_conn_id="aws_default",
        get_iam_token=lambda c: ("IAM:airflow_etl", "temporary", 5439),
    )
    assert driver_arguments(hook) == {
        "user": "IAM:airflow_etl",
        "password": "temporary",
        "host": conn.host,
        "port": 5439,
        "database": "dev",
        "sslmode": "verify-full",
    }


def test_rejected_lines_are_read_back_for_that_copy_like_postgres_rejections(caplog):
    stl_row = (f"s3://bucket/{SONGS[1]}  ", 1, '{"song_id": 5', "title: Invalid JSON  ")
    cur = RecordingCursor(results={"stl_load_errors": [stl_row]})
    source = FakeSource({k: b"{}" for k in SONGS})
    result = engine().stage(cur, request(source, SONGS, max_errors=10, by_object=False, destination="staging_songs"))
    copy_at = next(i for i, s in enumerate(cur.sql) if s.startswith("COPY"))
    assert "MAXERROR 10" in cur.sql[copy_at]
    assert "WHERE le.query = PG_LAST_COPY_ID()" in cur.sql[copy_at + 1]  # read right after its COPY
    assert [tuple(r) for r in result.rejections] == [(SONGS[1], 1, "title: Invalid JSON", '{"song_id": 5')]
    assert "s3cr3t" not in caplog.text
    assert "SECRET_ACCESS_KEY '***'" in caplog.text


def test_on_serverless_rejections_come_from_the_sys_view_by_session_and_copy_start():
    cur = RecordingCursor(results={"GETDATE()": [("2026-11-26 10:00:00",)], "sys_load_error_detail": []})
    source = FakeSource({SONGS[0]: b"{}"})
    rs = engine(host="wg.123456789012.us-west-2.redshift-serverless.amazonaws.com")
    rs.stage(cur, request(source, SONGS[:1], max_errors=1))
    query = next(s for s, p in cur.statements if "sys_load_error_detail" in s)
    assert "PG_BACKEND_PID()" in query
    assert dict(cur.statements)[query] == {"copy_started": "2026-11-26 10:00:00"}


def test_nothing_is_read_back_when_no_line_may_be_rejected():
    cur = RecordingCursor()
    engine().stage(cur, request(FakeSource({SONGS[0]: b"{}"}), SONGS[:1]))
    assert not any("load_error" in s for s in cur.sql)


def test_lock_and_ddl_are_redshift_own():
    rs = engine()
    assert rs.lock_table("users") == 'LOCK "users"'
    assert rs.ddl_lock() is None
    files = rs.ddl_files()
    assert "redshift/ddl/10_songplays.sql" in files
    assert "ddl/10_songplays.sql" not in files
    assert "ddl/01_staging_events.sql" in files
    assert not any(f.startswith("postgres/") for f in files)
    songplays = (SQL_DIR / "redshift/ddl/10_songplays.sql").read_text()
    assert "DISTKEY (start_time)" in songplays
    assert "COMPOUND SORTKEY (start_time)" in songplays


@pytest.mark.parametrize("path", sorted((SQL_DIR / "redshift").rglob("*.sql")), ids=lambda p: p.name)
def test_redshift_sql_files_parse_as_redshift(path):
    from tests.unit.test_sql import parse

    parsed = parse(path.read_text(), "redshift")
    assert not parsed.violations, [v.desc() for v in parsed.violations]


# ----------------------------------------------------------------------------------------------------------------
# COPY text
# ----------------------------------------------------------------------------------------------------------------
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
