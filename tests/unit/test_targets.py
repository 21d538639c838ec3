"""A start has one target — the local stack or AWS — and refuses a mix, naming the file or the setting."""

from __future__ import annotations

import json
import os
import re

import pytest

from tools import paths, s3_server, stack, targets
from tools.airflow_stack import AirflowStack

KWARGS = {
    "connections_prefix": "sparkify/airflow/connections",
    "variables_prefix": "sparkify/airflow/variables",
    "region_name": "us-west-2",
    "role_arn": "arn:aws:iam::123456789012:role/sparkify-airflow",
}
GOOD = (
    "# written by make aws-up\n"
    "SPARKIFY_TARGET=aws:sparkify\n"
    f"AIRFLOW__SECRETS__BACKEND={targets.SECRETS_BACKEND}\n"
    f"AIRFLOW__SECRETS__BACKEND_KWARGS='{json.dumps(KWARGS)}'\n"
    "AWS_DEFAULT_REGION=us-west-2\n"
)
AWS_REDSHIFT = "redshift://awsuser:hunter2@dwh.abc.us-west-2.redshift.amazonaws.com:5439/dev"


def settings_file(tmp_path, text: str):
    path = tmp_path / "sparkify.env"
    path.write_text(text)
    return path


def test_a_complete_settings_file_is_read_with_its_quoting(tmp_path):
    settings = targets.read_settings_file(settings_file(tmp_path, GOOD))
    assert settings["SPARKIFY_TARGET"] == "aws:sparkify"
    assert targets.backend_kwargs(settings) == KWARGS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no such settings file — `make aws-up` writes it"),
        (GOOD.replace("SPARKIFY_TARGET=aws:sparkify\n", ""), "SPARKIFY_TARGET is missing"),
        (
            GOOD.split("AIRFLOW__SECRETS__BACKEND_KWARGS")[0] + "AIRFLOW__SECRETS__BACKEND_KWARGS='{\"conn",
            r"sparkify.env:4: 'AIRFLOW__SECRETS__BACKEND_KWARGS' has a value that does not parse",
        ),
        (
            GOOD.replace(json.dumps(KWARGS), '{"connections_prefix": "x"}'),
            "AIRFLOW__SECRETS__BACKEND_KWARGS lacks variables_prefix, region_name",
        ),
        (GOOD.replace("aws:sparkify", "local"), "SPARKIFY_TARGET=local — this file is for the local stack"),
        (
            GOOD + "AIRFLOW_CONN_REDSHIFT=postgres://u:p@127.0.0.1:25432/warehouse\n",
            "AIRFLOW_CONN_REDSHIFT points at the local stack",
        ),
        (GOOD + f"AIRFLOW_CONN_REDSHIFT={AWS_REDSHIFT}\n", "AIRFLOW_CONN_REDSHIFT — connections come from Secrets"),
        (GOOD + "not a setting\n", "sparkify.env:6: not a KEY=VALUE line"),
    ],
)
def test_a_missing_half_written_or_local_settings_file_is_refused_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "sparkify.env" if text is None else settings_file(tmp_path, text)
    with pytest.raises(targets.SettingsError) as refused:
        targets.read_settings_file(path)
    assert str(path) in str(refused.value)
    assert re.search(message, str(refused.value)), str(refused.value)


def test_the_local_start_refuses_a_shell_that_carries_aws_settings():
    environ = {
        "SPARKIFY_TARGET": "aws:sparkify",
        "AIRFLOW__SECRETS__BACKEND": targets.SECRETS_BACKEND,
        "AIRFLOW_CONN_REDSHIFT": AWS_REDSHIFT,
    }
    with pytest.raises(targets.SettingsError) as refused:
        targets.refuse_aws_settings_for_local(environ)
    message = str(refused.value)
    assert (
        "SPARKIFY_TARGET=aws:sparkify, AIRFLOW__SECRETS__BACKEND, AIRFLOW_CONN_REDSHIFT (not on 127.0.0.1)" in message
    )
    assert "make airflow AWS_ENV=.local/aws/<prefix>.env" in message
    assert "unset SPARKIFY_TARGET AIRFLOW__SECRETS__BACKEND AIRFLOW_CONN_REDSHIFT" in message
    assert "hunter2" not in message
    targets.refuse_aws_settings_for_local(stack.env())  # what `eval "$(make -s env)"` exports is fine


def test_the_local_start_passes_on_no_connection_or_credential_the_shell_exported(monkeypatch, tmp_path):
    for key, value in {
        "AIRFLOW_CONN_AWS_DEFAULT": '{"conn_type": "aws"}',
        "AWS_PROFILE": "prod",
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": "udacity-dend",
        "AIRFLOW__SECRETS__BACKEND": targets.SECRETS_BACKEND,
    }.items():
        monkeypatch.setenv(key, value)
    env = AirflowStack(home=tmp_path / "airflow").env()
    assert env["AIRFLOW_CONN_AWS_DEFAULT"] == stack.local_target()["AIRFLOW_CONN_AWS_DEFAULT"]
    assert env["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"] == stack.BUCKET
    assert not [k for k in env if k.startswith("AWS_") or k.startswith("AIRFLOW__SECRETS__")]


def test_the_aws_start_uses_the_file_and_the_credential_chain_and_nothing_local(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", "postgres://u:p@127.0.0.1:25432/warehouse")  # exported: ignored
    monkeypatch.setenv("AWS_PROFILE", "prod")
    af = AirflowStack.for_aws(settings_file(tmp_path, GOOD), home=tmp_path / "airflow")
    env = af.env()
    assert not [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "WAREHOUSE_DSN"))]
    assert env["AIRFLOW__SECRETS__BACKEND"] == targets.SECRETS_BACKEND
    assert env["AWS_PROFILE"] == "prod"
    assert env["SPARKIFY_TARGET"] == "aws:sparkify"
    assert af.dag_ids == ()  # nothing is unpaused on AWS
    assert af.metadata_db == "airflow_aws_sparkify"


def test_connections_are_shown_with_secrets_masked():
    assert targets.describe("redshift", AWS_REDSHIFT) == (
        "redshift: redshift://awsuser:***@dwh.abc.us-west-2.redshift.amazonaws.com:5439/dev"
    )
    iam = json.dumps(
        {
            "conn_type": "redshift",
            "host": "dwh",
            "port": 5439,
            "schema": "dev",
            "login": "airflow_etl",
            "extra": {"iam": True, "copy_role_arn": "arn:x"},
        }
    )
    assert targets.describe("redshift", iam) == (
        'redshift: redshift://airflow_etl@dwh:5439/dev {"copy_role_arn": "arn:x", "iam": true}  (no stored password)'
    )
    local_aws = stack.local_target()["AIRFLOW_CONN_AWS_DEFAULT"]
    shown = targets.describe("aws_default", local_aws)
    assert s3_server.SECRET_ACCESS_KEY not in shown
    assert shown.startswith("aws_default: aws://SPARKIFYLOCAL:***@")


@pytest.fixture
def restored_environ():
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def test_local_tools_take_the_local_target_and_drop_the_aws_credential_chain(monkeypatch, restored_environ):
    for key, value in {
        "AWS_PROFILE": "prod",
        "AWS_ENDPOINT_URL": "https://s3.amazonaws.com",
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": "udacity-dend",
    }.items():
        monkeypatch.setenv(key, value)
    targets.enter_local(stack.env())
    assert "AWS_PROFILE" not in os.environ
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"] == stack.BUCKET
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", targets.SECRETS_BACKEND)
    with pytest.raises(targets.SettingsError, match="AIRFLOW__SECRETS__BACKEND"):
        targets.enter_local(stack.env())


def test_the_operating_settings_reach_airflow_whichever_the_target(monkeypatch):
    """SPARKIFY_TIMEOUT_STAGE_SONGS=90m make airflow: the DAGs' settings pass; the target's are dropped."""
    read = set(re.findall(r"SPARKIFY_[A-Z_]+", (paths.ROOT / "plugins" / "sparkify" / "operating.py").read_text()))
    assert "SPARKIFY_TIMEOUT_STAGE_SONGS" in read  # an example of the per-task SPARKIFY_TIMEOUT_<TASK_ID>
    environ = {**{name: "1h" for name in read}, "SPARKIFY_TARGET": "aws:x", "AIRFLOW_CONN_REDSHIFT": "postgres://x"}
    for keep_aws_credentials in (False, True):
        kept = targets.without_targets(environ, keep_aws_credentials=keep_aws_credentials)
        assert set(kept) == read, keep_aws_credentials
