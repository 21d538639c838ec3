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
        example = _EXAMPLES["aws_default" if "aws" in conn_id else "redshift"]
        raise ConnectionNotConfiguredError(
            f"Airflow connection {conn_id!r} is not defined. Set the environment variable {env_var} "
            f"(for example {env_var}='{example}') or add the connection in the Airflow UI."
        ) from None
