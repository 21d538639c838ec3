"""Connection lookup: a missing connection names what to set; a malformed one says why, without its secret."""

from __future__ import annotations

import pytest

from sparkify.connections import ConnectionNotConfiguredError, get_connection


def test_a_missing_connection_names_the_environment_variable(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with pytest.raises(ConnectionNotConfiguredError, match=r"is not defined\. Set .* AIRFLOW_CONN_NOWHERE"):
        get_connection("nowhere")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("postgres://sparkify:hunter2secret@127.0.0.1:notaport/warehouse", "Port could not be cast to integer"),
        ('{"conn_type": "postgres", "password": "hunter2secret", ', "JSONDecodeError"),
    ],
)
def test_a_malformed_connection_reports_the_parse_error_not_undefined(monkeypatch, value, reason):
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", value)
    with pytest.raises(ConnectionNotConfiguredError) as raised:
        get_connection("broken")
    message = str(raised.value)
    assert "is set in AIRFLOW_CONN_BROKEN but cannot be read" in message
    assert reason in message
    assert "hunter2secret" not in message
