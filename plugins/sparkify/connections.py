"""Airflow connections, looked up once for every operator: a missing one is a clear, non-retryable failure."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException


class ConnectionNotConfiguredError(AirflowFailException):
    """An Airflow connection the pipeline needs is not defined: the task fails at once, retrying will not help."""


_EXAMPLES = {
    "redshift": "postgres://user:password@127.0.0.1:5432/warehouse (embedded default) or "
    "redshift://user:password@cluster.abc123.us-west-2.redshift.amazonaws.com:5439/dev",
    "aws_default": '{"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::123456789012:role/RedshiftS3Read", '
    '"region_name": "us-west-2"}}',
}


def get_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id``, or an error that names the environment variable to set."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        env_var = "AIRFLOW_CONN_" + conn_id.upper()
        problem = unparsable_env_connection(conn_id, env_var)
        if problem:
            raise ConnectionNotConfiguredError(
                f"Airflow connection {conn_id!r} is set in {env_var} but cannot be read: {problem}. "
                "Fix the value (a URI such as postgres://user:password@host:5432/db, or JSON)."
            ) from None
        example = _EXAMPLES["aws_default" if "aws" in conn_id else "redshift"]
        raise ConnectionNotConfiguredError(
            f"Airflow connection {conn_id!r} is not defined. Set the environment variable {env_var} "
            f"(for example {env_var}='{example}') or add the connection in the Airflow UI."
        ) from None


def unparsable_env_connection(conn_id: str, env_var: str) -> str | None:
    """Why ``env_var`` (set, yet not found as a connection) does not parse; None when it is not set or parses.

    Airflow's secrets lookup swallows the parse error and reports the connection as undefined; this gives the
    reason back, with the value (which may hold a password) never part of the message.
    """
    import os

    from airflow.sdk.definitions.connection import Connection

    value = os.environ.get(env_var)
    if not value:
        return None
    try:
        conn = (
            Connection.from_json(value, conn_id=conn_id)
            if value.lstrip().startswith("{")
            else Connection.from_uri(value, conn_id=conn_id)
        )
        _ = conn.port, conn.host, conn.extra_dejson
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        secrets = [value, *([value.split("://", 1)[-1].split("@", 1)[0]] if "@" in value else [])]
        for secret in secrets:
            if len(secret) > 3:
                message = message.replace(secret, "***")
        return message
    return None
