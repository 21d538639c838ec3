"""The Redshift engine against a real S3 server: the manifest it writes there, and the credentials the amazon
provider's hooks give it (the connection's keys, on the local stack's S3 server; or a role assumed through STS,
on moto's emulation of STS and S3 — a server in a thread of the test — as the local S3 server has no STS).

No AWS is reachable here, so the warehouse side is a recording cursor (tests/unit/engines/test_redshift.py has the
rest of the engine's SQL). Every statement must parse as Redshift SQL, credentials must never appear in what is
logged, and the manifest must name exactly the pending objects.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
import sqlfluff

from sparkify.engines import RedshiftEngine, StageRequest
from sparkify.ingest.records import Column
from sparkify.ingest.s3 import S3Object, S3Source
from tests.conftest import make_bucket, s3_client
from tests.recording import RecordingCursor
from tools.s3_server import ACCESS_KEY_ID as S3_ACCESS_KEY_ID
from tools.s3_server import SECRET_ACCESS_KEY as S3_SECRET_ACCESS_KEY

pytestmark = pytest.mark.integration


def stage(cursor, bucket, objects, columns, work=None, **fields):
    request = StageRequest(
        source=S3Source("aws_default", bucket),
        work=work and S3Source("aws_default", work),
        objects=objects,
        staging_table=fields.pop("table"),
        columns=columns,
        json_layout="document",
        max_errors=0,
        run_id=fields.pop("run_id"),
        dag_id="adhoc_airflow",
        options=RedshiftEngine.stage_options,
        **fields,
    )
    warehouse = SimpleNamespace(get_connection=lambda _: SimpleNamespace(host="dwh", extra_dejson={}))
    return RedshiftEngine("redshift", hook=warehouse).stage(cursor, request)


@pytest.fixture
def bucket(local_stack):
    name = make_bucket()
    for i in range(3):
        s3_client().put_object(Bucket=name, Key=f"song_data/A/B/C/TRABC{i}.json", Body=b"{}")
    return name


def parse_redshift(statement: str) -> None:
    sql = statement.replace("%(staged_from)s", "'s3://x/y'")
    sqlfluff.parse(sql, dialect="redshift")  # raises on anything it cannot parse


@pytest.fixture
def aws_emulator():
    """moto's emulation of AWS (STS and S3 here) as an HTTP server on a free loopback port, for this test only."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_incremental_copy_reads_exactly_the_new_keys_through_a_run_specific_manifest(aws_emulator, monkeypatch):
    role = "arn:aws:iam::123456789012:role/dwhRole"
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {
                    "endpoint_url": aws_emulator,
                    "region_name": "us-west-2",
                    "role_arn": role,  # assumed through the emulator's STS
                    "service_config": {"sts": {"endpoint_url": aws_emulator}},
                },
            }
        ),
    )
    client = boto3.client(
        "s3",
        endpoint_url=aws_emulator,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket, work = "redshift-path", "redshift-path-work"
    for name in (bucket, work):
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for i in range(3):
        client.put_object(Bucket=bucket, Key=f"song_data/A/B/C/TRABC{i}.json", Body=b"{}")
    pending = [S3Object("song_data/", f"song_data/A/B/C/TRABC{i}.json", 2, f'"etag{i}"') for i in (0, 2)]
    cursor = RecordingCursor()
    result = stage(
        cursor,
        bucket,
        pending,
        [Column("song_id", "character varying", 64), Column("title", "character varying", 65535)],
        table="staging_songs",
        destination="stage_incoming",
        json_paths=None,
        by_object=True,
        origin_matters=False,
        run_id="scheduled__2018-11-15T16:00:00+00:00",
        task_id="stage_songs",
        work=work,
    )
    assert (result.rows, result.rejections) == (7, [])
    statements = [s for s, _ in cursor.statements]
    assert statements[0] == 'CREATE TEMP TABLE "stage_copy" (LIKE "staging_songs")'
    manifest_key = "sparkify-manifests/adhoc_airflow/scheduled__2018-11-15T16_00_00_00_00/stage_songs.manifest"
    copy = statements[1]
    assert copy.splitlines() == [
        'COPY "stage_copy" ("song_id", "title")',
        f"FROM 's3://{work}/{manifest_key}'",
        f"IAM_ROLE '{role}'",
        "REGION 'us-west-2'",
        "FORMAT AS JSON 'auto'",
        "TIMEFORMAT 'epochmillisecs'",
        "STATUPDATE OFF COMPUPDATE OFF",
        "MANIFEST",
    ]
    assert statements[2] == (
        'INSERT INTO "stage_incoming" ("song_id", "title", "staged_from") '
        'SELECT "song_id", "title", %(staged_from)s FROM "stage_copy"'
    )
    assert cursor.statements[2][1] == {"staged_from": f"s3://{work}/{manifest_key}"}
    assert statements[-1] == 'DROP TABLE "stage_copy"'
    for statement in statements:
        parse_redshift(statement)
    manifest = json.loads(client.get_object(Bucket=work, Key=manifest_key)["Body"].read())
    assert client.list_objects_v2(Bucket=bucket, Prefix="sparkify-manifests/")["KeyCount"] == 0  # source untouched
    assert manifest == {
        "entries": [
            {"url": f"s3://{bucket}/song_data/A/B/C/TRABC0.json", "mandatory": True},
            {"url": f"s3://{bucket}/song_data/A/B/C/TRABC2.json", "mandatory": True},
        ]
    }


def test_key_credentials_reach_redshift_but_never_the_log(bucket, caplog):
    cursor = RecordingCursor()
    obj = S3Object("log_data/2018/11/2018-11-15-events.json", "log_data/2018/11/2018-11-15-events.json", 1, '"e"')
    stage(
        cursor,
        bucket,
        [obj],
        [Column("ts", "timestamp without time zone")],
        table="staging_events",
        destination="staging_events",
        json_paths="log_json_path.json",
        by_object=False,
        run_id="r",
        task_id="stage_events",
    )
    copy = cursor.statements[1][0]
    assert f"ACCESS_KEY_ID '{S3_ACCESS_KEY_ID}' SECRET_ACCESS_KEY '{S3_SECRET_ACCESS_KEY}'" in copy  # the stack's
    assert f"FROM 's3://{bucket}/log_data/2018/11/2018-11-15-events.json'" in copy
    assert f"FORMAT AS JSON 's3://{bucket}/log_json_path.json'" in copy
    logged = caplog.text  # before sqlfluff logs the statement it parses
    parse_redshift(copy)
    assert "running on Redshift" in logged
    assert "SECRET_ACCESS_KEY '***'" in logged
    assert S3_SECRET_ACCESS_KEY not in logged
