"""Bad input on the embedded default: exact round trips, clear failures, recorded rejections — never silent loss."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_dag, make_bucket, run_tasks, s3_client, utc
from tools.datagen import JSON_PATHS

pytestmark = pytest.mark.integration

HOUR = (utc(2018, 11, 15, 16), utc(2018, 11, 15, 17))
KEY = "log_data/2018/11/2018-11-15-events.json"


def event(item: int, **overrides) -> dict:
    e = {
        "artist": "Harmonia",
        "auth": "Logged In",
        "firstName": "Ryan",
        "gender": "M",
        "itemInSession": item,
        "lastName": "Smith",
        "length": 655.77751,
        "level": "free",
        "location": "San Jose, CA",
        "method": "PUT",
        "page": "NextSong",
        "registration": 1541016707796.0,
        "sessionId": 583,
        "song": "Sehr kosmisch",
        "status": 200,
        "ts": 1542297600000 + item * 1000,
        "userAgent": "Mozilla/5.0",
        "userId": "26",
    }
    e.update(overrides)
    return e


def put(bucket: str, key: str, lines: list[bytes | str | dict]) -> None:
    body = b"".join(
        (
            json.dumps(x, ensure_ascii=False).encode()
            if isinstance(x, dict)
            else x
            if isinstance(x, bytes)
            else x.encode()
        )
        + b"\n"
        for x in lines
    )
    s3_client().put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture
def bucket(local_stack):
    name = make_bucket()
    s3_client().put_object(Bucket=name, Key="log_json_path.json", Body=json.dumps(JSON_PATHS).encode())
    return name


@pytest.fixture
def warehouse(new_warehouse):
    return new_warehouse("bad")


def stage_events(bucket: str, max_errors: int = 0):
    dag = load_dag()
    dag.get_task("stage_events").max_errors = max_errors
    return run_tasks(dag, *HOUR, bucket=bucket, task_ids=["begin", "stage_events"])["stage_events"]


TRICKY = [
    "tab\there",
    "new\nline",
    "back\\slash",
    "\\N",
    "quote \" and ' apostrophe",
    "Beyoncé — Ōkami 日本語 🎵",
    "",
    "carriage\rreturn",
]


def test_tricky_text_round_trips_exactly(bucket, warehouse):
    put(bucket, KEY, [event(i, song=text, artist=text, location=text) for i, text in enumerate(TRICKY)])
    assert stage_events(bucket)["rows_staged"] == len(TRICKY)
    rows = warehouse.query("SELECT item_in_session, song, artist, location FROM staging_events ORDER BY 1")
    assert [r[1] for r in rows] == TRICKY
    assert [r[2] for r in rows] == TRICKY
    assert [r[3] for r in rows] == TRICKY


def test_json_numbers_where_text_is_expected_load_as_text(bucket, warehouse):
    put(bucket, KEY, [event(0, song=4.6, artist=311, userId=26, firstName=None)])
    stage_events(bucket)
    assert warehouse.query("SELECT song, artist, user_id, first_name FROM staging_events") == [
        ("4.6", "311", "26", None)
    ]


def test_a_malformed_line_fails_the_task_with_key_and_line_number(bucket, warehouse):
    from airflow.sdk.exceptions import AirflowFailException

    put(bucket, KEY, [event(0), event(1), '{"artist": "broken", ', event(3)])
    with pytest.raises(AirflowFailException, match=rf"s3://{bucket}/{KEY} line 3: malformed JSON"):
        stage_events(bucket)
    assert warehouse.scalar("SELECT COUNT(*) FROM staging_events") == 0  # nothing half-staged


def test_a_bad_value_fails_the_task_with_its_column(bucket, warehouse):
    from airflow.sdk.exceptions import AirflowFailException

    put(bucket, KEY, [event(0), event(1, itemInSession="first")])
    with pytest.raises(AirflowFailException, match=r"line 2: column item_in_session: invalid integer"):
        stage_events(bucket)


def test_max_errors_records_each_rejection_and_accounts_for_every_line(bucket, warehouse):
    lines = [event(0), "not json at all", event(2), event(3, ts="yesterday"), "", event(5), b"\xff\xfe{"]
    put(bucket, KEY, lines)
    result = stage_events(bucket, max_errors=5)
    read = sum(1 for x in lines if x not in ("", b""))
    assert result["rows_staged"] == 3
    assert result["lines_rejected"] == 3
    assert result["rows_staged"] + result["lines_rejected"] == read
    rejected = warehouse.query(
        "SELECT s3_key, line_number, reason, excerpt, staging_table, run_id FROM load_errors ORDER BY line_number"
    )
    assert [(r[0], r[1]) for r in rejected] == [(KEY, 2), (KEY, 4), (KEY, 7)]
    assert rejected[0][2].startswith("malformed JSON")
    assert rejected[0][3] == "not json at all"
    assert "column ts: invalid epoch milliseconds" in rejected[1][2]
    assert {r[4] for r in rejected} == {"staging_events"}
    assert all(r[5].startswith("test__") for r in rejected)


def test_more_rejections_than_allowed_fail_the_task(bucket, warehouse):
    from airflow.sdk.exceptions import AirflowFailException

    put(bucket, KEY, [event(0), "bad 1", "bad 2", event(3)])
    with pytest.raises(AirflowFailException, match=r"line 3: .*rejected 2 line\(s\), max_errors=1"):
        stage_events(bucket, max_errors=1)


def test_a_missing_log_object_fails_with_a_clear_message(bucket, warehouse):
    with pytest.raises(RuntimeError, match=rf"missing input: no object at s3://{bucket}/{KEY}"):
        stage_events(bucket)


def test_a_missing_connection_names_the_environment_variable(bucket, warehouse, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    put(bucket, KEY, [event(0)])
    monkeypatch.delenv("AIRFLOW_CONN_REDSHIFT")
    with pytest.raises(AirflowFailException, match="Set the environment variable AIRFLOW_CONN_REDSHIFT"):
        stage_events(bucket)
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", warehouse.conn_uri)
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT")
    with pytest.raises(AirflowFailException, match="AIRFLOW_CONN_AWS_DEFAULT"):
        run_tasks(load_dag(), *HOUR, bucket=bucket, task_ids=["stage_events"])


def test_a_bom_at_the_start_of_an_object_is_not_data(bucket, warehouse):
    lines = [event(0), event(1, song=311)]  # a number for text: the block goes line by line, where line 1 broke
    put(bucket, KEY, lines)
    body = s3_client().get_object(Bucket=bucket, Key=KEY)["Body"].read()
    s3_client().put_object(Bucket=bucket, Key=KEY, Body=b"\xef\xbb\xbf" + body)
    result = stage_events(bucket)
    assert (result["rows_staged"], result["lines_rejected"]) == (2, 0)


def test_a_bom_anywhere_else_is_a_bad_line_named_by_its_number(bucket, warehouse):
    from airflow.sdk.exceptions import AirflowFailException

    put(bucket, KEY, [event(0), b"\xef\xbb\xbf" + json.dumps(event(1)).encode(), event(2)])
    with pytest.raises(AirflowFailException, match=rf"{KEY} line 2: malformed JSON: UTF-8 byte order mark"):
        stage_events(bucket)


def test_an_empty_log_object_fails_as_clearly_as_a_missing_one_unless_allowed(bucket, warehouse):
    s3_client().put_object(Bucket=bucket, Key=KEY, Body=b"")
    with pytest.raises(RuntimeError, match=rf"empty input: the object at s3://{bucket}/{KEY} is 0 bytes"):
        stage_events(bucket)
    dag = load_dag()
    dag.get_task("stage_events").allow_empty = True
    result = run_tasks(dag, *HOUR, bucket=bucket, task_ids=["begin", "stage_events"])["stage_events"]
    assert (result["rows_staged"], result["objects_read"]) == (0, 1)


def test_a_budget_from_the_trigger_form_reaches_the_task(bucket, warehouse):
    put(bucket, KEY, [event(0), "bad", event(2)])
    result = run_tasks(
        load_dag(), *HOUR, bucket=bucket, task_ids=["begin", "stage_events"], params={"max_errors_events": 1}
    )["stage_events"]
    assert (result["rows_staged"], result["lines_rejected"]) == (2, 1)
