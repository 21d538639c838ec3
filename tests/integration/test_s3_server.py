"""The local stack's S3 server (rclone serve s3): loopback only, signatures checked, and S3's semantics that
staging relies on — 1,000-key pages, ETags that change with the content, and a new object in the very next
listing (its directory cache is updated by the writes it serves)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import psutil
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_bucket, s3_client
from tools import processes, s3_server, stack

pytestmark = pytest.mark.integration


def test_it_listens_on_loopback_only(local_stack):
    pid = processes.read_pid(s3_server.PIDFILE)
    listening = {(c.laddr.ip, c.laddr.port) for c in psutil.Process(pid).net_connections() if c.status == "LISTEN"}
    assert listening == {("127.0.0.1", s3_server.PORT)}


def test_a_request_signed_with_another_key_pair_is_refused(local_stack):
    bucket = make_bucket()
    stranger = boto3.client(
        "s3",
        endpoint_url=s3_client().meta.endpoint_url,
        region_name=stack.REGION,
        aws_access_key_id="AKIAOTHER",
        aws_secret_access_key="other",
    )
    with pytest.raises(ClientError) as refused:
        stranger.list_objects_v2(Bucket=bucket)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_listings_page_by_1000_and_see_new_and_changed_objects_at_once(local_stack):
    client, bucket = s3_client(), make_bucket()
    for i in range(1001):
        client.put_object(Bucket=bucket, Key=f"song_data/A/{i % 7}/TR{i:05d}.json", Body=b"{}")
    pages = list(client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="song_data/"))
    assert [p["KeyCount"] for p in pages] == [1000, 1]

    def listed() -> dict[str, str]:
        return {
            o["Key"]: o["ETag"].strip('"')
            for o in client.list_objects_v2(Bucket=bucket, Prefix="song_data/A/1/")["Contents"]
        }

    before = listed()
    client.put_object(Bucket=bucket, Key="song_data/A/1/TRNEW.json", Body=b'{"song_id": "S1"}')
    client.put_object(Bucket=bucket, Key="song_data/A/1/TR00001.json", Body=b'{"song_id": "S2"}')
    after = listed()
    assert set(after) == set(before) | {"song_data/A/1/TRNEW.json"}
    assert after["song_data/A/1/TRNEW.json"] == hashlib.md5(b'{"song_id": "S1"}').hexdigest()
    assert after["song_data/A/1/TR00001.json"] == hashlib.md5(b'{"song_id": "S2"}').hexdigest()
    assert before["song_data/A/1/TR00001.json"] == hashlib.md5(b"{}").hexdigest()
    head = client.head_object(Bucket=bucket, Key="song_data/A/1/TR00001.json")
    assert head["ETag"].strip('"') == after["song_data/A/1/TR00001.json"]


def test_an_object_over_8_mb_downloads_in_ranges_through_the_stacks_connection(local_stack, tmp_path):
    """s3transfer fetches it in ranged GETs (as S3ToSqlOperator does); the server answers each with the whole
    object's checksum, so the connection validates checksums only when asked (tools/stack.py)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, body = make_bucket(), hashlib.sha256(b"x").digest() * (9 * 2**20 // 32 + 1)
    s3_client().put_object(Bucket=bucket, Key="log_data/big.json", Body=body)
    path = S3Hook(aws_conn_id="aws_default").download_file("log_data/big.json", bucket, str(tmp_path))
    assert Path(path).read_bytes() == body
