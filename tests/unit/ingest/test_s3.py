"""Reading objects: a byte-order mark at the start is not data, and a broken stream names its object."""

from __future__ import annotations

import pytest

from sparkify.ingest.s3 import BOM, ObjectBody, SourceReadError
from tests.recording import FakeBody


@pytest.mark.parametrize("size", [1, 2, 3, 4, 1 << 20])
def test_a_bom_at_the_start_of_an_object_is_dropped_whatever_the_chunk_size(size):
    body = ObjectBody(FakeBody(BOM + b'{"a": 1}\n' + BOM + b'{"b": 2}\n'), "s3://b/k")
    assert b"".join(body.iter_chunks(size)) == b'{"a": 1}\n' + BOM + b'{"b": 2}\n'  # only the first one


def test_whole_reads_drop_it_too_and_short_objects_survive():
    assert ObjectBody(FakeBody(BOM + b"{}"), "u").read() == b"{}"
    assert b"".join(ObjectBody(FakeBody(b"{"), "u").iter_chunks(4)) == b"{"
    assert b"".join(ObjectBody(FakeBody(b""), "u").iter_chunks(4)) == b""


def test_a_broken_stream_names_the_object():
    class Broken(FakeBody):
        def iter_chunks(self, size):
            yield b'{"a": 1}\n'
            raise ConnectionResetError("Connection reset by peer")

    with pytest.raises(SourceReadError, match=r"reading s3://b/log_data/x\.json failed: ConnectionResetError"):
        list(ObjectBody(Broken(b""), "s3://b/log_data/x.json").iter_chunks(4))


def test_a_listing_loses_only_the_fields_staging_never_reads_before_botocore_parses_it():
    from sparkify.ingest.s3 import drop_unread_listing_fields

    xml = (
        b"<ListBucketResult><Contents><Key>song_data/A/TRA.json</Key><LastModified>2026-11-27T01:00:00.000Z"
        b"</LastModified><ETag>&quot;e1&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>241</Size>"
        b"<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
    )
    response = {"body": xml, "status_code": 200}
    drop_unread_listing_fields(response)
    kept = b"<Key>song_data/A/TRA.json</Key><ETag>&quot;e1&quot;</ETag><Size>241</Size>"
    assert response["body"] == b"<ListBucketResult><Contents>" + kept + b"</Contents></ListBucketResult>"


def test_the_collector_is_paused_only_while_a_listing_is_built_and_restored_after_an_error():
    import gc

    from sparkify.ingest.s3 import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with gc_paused():
            raise RuntimeError("listing failed")
    except RuntimeError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()
