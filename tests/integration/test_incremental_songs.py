"""stage_songs reads only song objects that are new or changed since the last successful load."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_dag, make_bucket, run_tasks, s3_client, utc

pytestmark = pytest.mark.integration

HOUR = (utc(2018, 11, 15, 16), utc(2018, 11, 15, 17))
SONG_TASKS = ["begin", "stage_songs", "load_songs", "load_artists"]


def song(i: int, title: str | None = None) -> tuple[str, bytes]:
    track = f"TRAB{i:014d}"
    doc = {
        "artist_id": f"AR{i % 7:016d}",
        "artist_latitude": None,
        "artist_location": "Québec",
        "artist_longitude": None,
        "artist_name": f"Artist {i % 7}",
        "duration": 200.5 + i,
        "num_songs": 1,
        "song_id": f"SO{i:016d}",
        "title": title or f"Song {i}",
        "year": 2000,
    }
    return f"song_data/{track[2]}/{track[3]}/{track[4]}/{track}.json", json.dumps(doc).encode()


def upload(bucket: str, songs: list[tuple[str, bytes]]) -> None:
    for key, body in songs:
        s3_client().put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture
def setup(local_stack, new_warehouse):
    wh = new_warehouse("incremental")
    bucket = make_bucket()
    upload(bucket, [song(i) for i in range(20)])
    dag = load_dag()

    def run(**params):
        return run_tasks(dag, *HOUR, bucket=bucket, task_ids=SONG_TASKS, params=params)

    return wh, bucket, run


def test_only_new_and_changed_objects_are_read(setup):
    wh, bucket, run = setup
    first = run()
    assert first["stage_songs"]["objects_read"] == 20
    assert wh.scalar("SELECT COUNT(*) FROM songs") == 20

    upload(bucket, [song(i) for i in range(20, 23)])  # three new song files
    second = run()
    assert second["stage_songs"]["objects_listed"] == 23
    assert second["stage_songs"]["objects_read"] == 3
    assert second["load_songs"]["inserted"] == 3
    assert second["load_songs"]["updated"] == 0
    assert wh.scalar("SELECT COUNT(*) FROM songs") == 23

    upload(bucket, [song(5, title="Song 5 (Remastered)")])  # one changed file
    third = run()
    assert third["stage_songs"]["objects_read"] == 1
    assert third["load_songs"]["updated"] == 1
    assert third["load_songs"]["inserted"] == 0
    assert wh.scalar("SELECT title FROM songs WHERE song_id = %s", (f"SO{5:016d}",)) == "Song 5 (Remastered)"
    assert wh.scalar("SELECT COUNT(*) FROM staging_songs") == 23  # the changed file's old record was replaced

    songs_before, artists_before = wh.snapshot(("songs", "artists")).values()
    fourth = run()  # nothing new: listing only, and songs/artists untouched
    assert fourth["stage_songs"]["objects_read"] == 0
    assert fourth["stage_songs"]["bytes_read"] == 0
    assert fourth["load_songs"]["inserted"] == fourth["load_songs"]["updated"] == 0
    assert fourth["load_artists"]["inserted"] == fourth["load_artists"]["updated"] == 0
    assert list(wh.snapshot(("songs", "artists")).values()) == [songs_before, artists_before]
    tracked = wh.query(
        "SELECT COUNT(*), COUNT(DISTINCT etag) FROM staged_objects WHERE staging_table = 'staging_songs'"
    )
    assert tracked == [(23, 23)]


def test_full_reload_reads_everything_again(setup):
    wh, _, run = setup
    run()
    assert run()["stage_songs"]["objects_read"] == 0
    reloaded = run(full_reload_songs=True)
    assert reloaded["stage_songs"]["objects_read"] == 20
    assert wh.scalar("SELECT COUNT(*) FROM staging_songs") == 20
    assert reloaded["load_songs"]["inserted"] == reloaded["load_songs"]["updated"] == 0


def test_a_failed_stage_records_nothing(setup):
    """Tracking is written in the load's transaction: a failure leaves neither rows nor tracking behind."""
    from airflow.sdk.exceptions import AirflowFailException

    wh, bucket, run = setup
    run()
    upload(bucket, [song(30), ("song_data/A/B/C/TRABCBROKEN.json", b'{"song_id": "SOBROKEN", ')])
    with pytest.raises(AirflowFailException, match=r"TRABCBROKEN\.json line 1: malformed JSON"):
        run(max_errors_songs=0)
    assert wh.scalar("SELECT COUNT(*) FROM staged_objects") == 20
    assert wh.scalar("SELECT COUNT(*) FROM staging_songs") == 20
    s3_client().delete_object(Bucket=bucket, Key="song_data/A/B/C/TRABCBROKEN.json")
    assert run()["stage_songs"]["objects_read"] == 1  # the new good file, still pending


def test_within_the_songs_budget_a_bad_document_is_recorded_and_the_rest_staged(setup):
    """One bad song document must not block the catalogue in every hour: the DAG's default budget is 10."""
    wh, bucket, run = setup
    upload(
        bucket,
        [("song_data/A/B/C/TRABCBROKEN.json", b'{"song_id": "SOBROKEN", '), ("song_data/A/B/C/TRABCEMPTY.json", b"")],
    )
    stage = run()["stage_songs"]
    assert (stage["rows_staged"], stage["lines_rejected"], stage["objects_read"]) == (20, 2, 22)
    reasons = wh.query("SELECT s3_key, reason FROM load_errors ORDER BY s3_key")
    assert [key for key, _ in reasons] == ["song_data/A/B/C/TRABCBROKEN.json", "song_data/A/B/C/TRABCEMPTY.json"]
    assert reasons[1][1] == "empty object: no JSON document"
    assert run()["stage_songs"]["objects_read"] == 0  # rejected objects are tracked too: not re-read every hour
