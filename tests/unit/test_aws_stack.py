"""make aws-up / aws-down against moto's emulation of CloudFormation, IAM, EC2, Redshift, S3 and Secrets Manager.

In-process (``mock_aws``): nothing leaves the machine. moto has no Redshift Serverless, so the stack is deployed
with ``--warehouse provisioned`` here; the Serverless resources are checked by the plan and by cfn-lint. What the
roles may do is tested where it is enforced: tests/rehearsal (moto's server with IAM enforcement).
"""

from __future__ import annotations

import json
import stat
import urllib.parse

import pytest

from tools import aws


@pytest.fixture
def moto(monkeypatch, tmp_path):
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(aws, "LOCAL", tmp_path)
    monkeypatch.setattr(aws.Settings, "env_file", property(lambda s: tmp_path / "aws" / f"{s.prefix}.env"))
    from tests.aws_emulation import teach_moto

    teach_moto()
    with mock_aws():
        yield


def _document(doc):
    """A policy document as a dict. boto3 decodes AWS's; moto's CloudFormation stores an inline policy as the
    Python repr of the template's mapping, which comes back as text."""
    import ast

    return doc if isinstance(doc, dict) else ast.literal_eval(urllib.parse.unquote(doc))


def settings(**kw) -> aws.Settings:
    return aws.Settings(
        prefix="sparkifytest",
        warehouse="provisioned",
        data_bucket="sparkify-data",
        allowed_cidr="203.0.113.7/32",
        poll_seconds=0.01,
        **kw,
    )


def test_up_creates_two_roles_the_warehouse_a_work_bucket_and_airflow_secrets_then_down_removes_them(moto, capsys):
    s = settings()
    assert aws.up(s) == 0
    printed = capsys.readouterr().out
    assert "stack sparkifytest-warehouse: created" in printed
    assert "database user airflow_etl: ready (IAM logins only, no password)" in printed

    iam = aws.client("iam", s.region)
    copy_role, airflow_role = (iam.get_role(RoleName=f"sparkifytest-{n}")["Role"] for n in ("redshift-copy", "airflow"))
    assert [st["Principal"] for st in copy_role["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]}
    ]
    assert [st["Principal"] for st in airflow_role["AssumeRolePolicyDocument"]["Statement"]] == [
        {"AWS": "arn:aws:iam::123456789012:root"}  # this account's principals, unless --trusted-principal
    ]
    work = "sparkifytest-work-123456789012-us-west-2"
    copy = policies(iam, copy_role)
    assert copy["read-source"]["Statement"][1] == {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::sparkify-data/*",
    }
    assert copy["read-manifests"]["Statement"] == [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{work}/sparkify-manifests/*"}
    ]
    tasks = policies(iam, airflow_role)
    assert sorted(tasks) == ["read-own-secrets", "read-source", "warehouse-credentials", "write-work-bucket"]
    assert tasks["write-work-bucket"]["Statement"][1]["Resource"] == [
        f"arn:aws:s3:::{work}/sparkify-manifests/*",
        f"arn:aws:s3:::{work}/reports/*",
    ]
    assert tasks["warehouse-credentials"]["Statement"][0]["Action"] == "redshift:GetClusterCredentials"

    (cluster,) = aws.client("redshift", s.region).describe_clusters()["Clusters"]
    assert cluster["PubliclyAccessible"] is False
    assert cluster["Encrypted"] is True
    (sg_id,) = [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]]
    sg = aws.client("ec2", s.region).describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    assert [(r["FromPort"], [ip["CidrIp"] for ip in r["IpRanges"]]) for r in sg["IpPermissions"]] == [
        (5439, ["203.0.113.7/32"])
    ]

    s3 = aws.client("s3", s.region)
    assert s3.get_bucket_versioning(Bucket=work)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=work)["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_encryption(Bucket=work)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    lifecycle = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=work)["Rules"]}
    assert lifecycle["expire-copy-manifests"]["Expiration"] == {"Days": 7}
    assert lifecycle["expire-old-report-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    (tls,) = json.loads(s3.get_bucket_policy(Bucket=work)["Policy"])["Statement"]
    assert (tls["Effect"], tls["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})

    sm = aws.client("secretsmanager", s.region)
    secret = json.loads(sm.get_secret_value(SecretId="sparkifytest/redshift-admin")["SecretString"])
    assert len(secret["password"]) == 32
    assert secret["password"] not in printed  # never printed
    redshift = json.loads(sm.get_secret_value(SecretId="sparkifytest/airflow/connections/redshift")["SecretString"])
    assert redshift == {
        "conn_type": "redshift",
        "host": cluster["Endpoint"]["Address"],
        "port": 5439,
        "schema": "dev",
        "login": "airflow_etl",
        "extra": {"iam": True, "cluster_identifier": cluster["ClusterIdentifier"], "copy_role_arn": copy_role["Arn"]},
    }  # no password: IAM authentication
    aws_default = json.loads(
        sm.get_secret_value(SecretId="sparkifytest/airflow/connections/aws_default")["SecretString"]
    )
    assert aws_default["extra"] == {"region_name": "us-west-2", "role_arn": airflow_role["Arn"]}
    assert sm.get_secret_value(SecretId="sparkifytest/airflow/variables/sparkify_work_bucket")["SecretString"] == work

    env = s.env_file.read_text()
    assert stat.S_IMODE(s.env_file.stat().st_mode) == 0o600
    assert secret["password"] not in env
    assert "AIRFLOW_CONN_" not in env
    assert "SPARKIFY_TARGET=aws:sparkifytest" in env
    assert airflow_role["Arn"] in env  # Airflow reads its secrets as its own role

    # A second up changes nothing and keeps the password.
    assert aws.up(settings()) == 0
    second = capsys.readouterr().out
    assert "stack sparkifytest-warehouse: unchanged" in second, second[-1500:]
    assert "work bucket s3://sparkifytest-work-123456789012-us-west-2: exists" in second
    again = json.loads(sm.get_secret_value(SecretId="sparkifytest/redshift-admin")["SecretString"])
    assert again == secret

    # down deletes everything it made (the work bucket emptied first) and checks that nothing is left; moto's
    # CloudFormation does not delete the cluster it made (CloudFormation does: DeletionPolicy: Delete), so down
    # deletes what the stack left and says so.
    s3.put_object(Bucket=work, Key="reports/latest.html", Body=b"<html/>")
    assert aws.down(settings()) == 0
    out = capsys.readouterr().out
    assert "stack sparkifytest-warehouse: deleted" in out
    assert f"cluster {cluster['ClusterIdentifier']}: deleted (the stack had left it)" in out
    assert "secret sparkifytest/redshift-admin: deleted" in out
    assert f"work bucket s3://{work}: deleted" in out
    assert "nothing left behind" in out
    assert all(not r["RoleName"].startswith("sparkifytest-") for r in iam.list_roles()["Roles"])
    assert aws.stack_status(aws.client("cloudformation", s.region), s.stack_name) is None
    assert sm.list_secrets()["SecretList"] == []
    assert not s.env_file.exists()


def policies(iam, role) -> dict[str, dict]:
    return {
        n: _document(iam.get_role_policy(RoleName=role["RoleName"], PolicyName=n)["PolicyDocument"])
        for n in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    }


def test_the_tasks_user_is_created_once_through_the_data_api_as_the_admin_secret(moto):
    from moto.backends import get_backend

    assert aws.up(settings()) == 0
    statements = list(get_backend("redshift-data")["123456789012"]["us-west-2"].statements.values())
    assert [(st.query_string, st.secret_arn.split(":")[-1].rsplit("-", 1)[0]) for st in statements] == [
        ('CREATE USER "airflow_etl" PASSWORD DISABLE', "sparkifytest/redshift-admin")
    ]


def test_dry_run_touches_nothing(moto, capsys):
    assert aws.up(settings(), dry_run=True) == 0
    out = capsys.readouterr().out
    assert "create AWS::Redshift::Cluster" in out
    assert "create AWS::S3::Bucket" in out
    assert "dry run: nothing was created" in out
    assert aws.client("cloudformation", "us-west-2").list_stacks()["StackSummaries"] == []
    assert aws.client("secretsmanager", "us-west-2").list_secrets()["SecretList"] == []


def test_the_default_plan_is_serverless_and_private():
    rows = aws.plan(aws.Settings())
    kinds = {kind: (name, note) for kind, name, note in rows}
    assert kinds["AWS::RedshiftServerless::Workgroup"] == (
        "sparkify",
        "private (reachable inside the VPC only); at most 32 RPUs",
    )
    assert kinds["AWS::RedshiftServerless::Namespace"][0] == "sparkify"
    assert kinds["AWS::EC2::SecurityGroup"] == ("sparkify-warehouse", "no ingress")
    assert "AWS::Redshift::Cluster" not in kinds
    assert kinds["AWS::RedshiftServerless::UsageLimit"] == ("sparkify", "48 RPU-hours a day, then deactivate")


def test_the_whole_internet_is_refused_unless_asked_for():
    with pytest.raises(SystemExit, match=r"refusing ingress from 0\.0\.0\.0/0"):
        aws.up(aws.Settings(allowed_cidr="0.0.0.0/0"), dry_run=True)
    assert aws.up(aws.Settings(allowed_cidr="0.0.0.0/0", allow_public=True), dry_run=True) == 0


def test_the_template_passes_cfn_lint():
    from cfnlint.api import lint_all

    problems = lint_all(aws.TEMPLATE.read_text())
    assert [str(p) for p in problems if p.rule.id[0] in "EW"] == []  # errors and warnings (not informational)


def test_the_serverless_usage_limit_is_created_once_then_kept_to_the_settings(monkeypatch):
    """moto has no Redshift Serverless: the calls are checked against botocore's own model of the API (Stubber)."""
    import boto3
    from botocore.stub import Stubber

    rs = boto3.client("redshift-serverless", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(aws, "client", lambda service, region: rs)
    arn = "arn:aws:redshift-serverless:us-west-2:123456789012:workgroup/0f1e2d3c-0000-4000-8000-000000000000"
    s = aws.Settings(usage_limit_rpu_hours=24, usage_breach_action="deactivate")
    with Stubber(rs) as stub:
        stub.add_response(
            "list_usage_limits", {}, {"resourceArn": arn, "usageType": "serverless-compute"}
        )  # none yet: the answer leaves the list out (the model allows no empty one)
        stub.add_response(
            "create_usage_limit",
            {"usageLimit": {"usageLimitId": "u1"}},
            {
                "resourceArn": arn,
                "usageType": "serverless-compute",
                "amount": 24,
                "period": "daily",
                "breachAction": "deactivate",
            },
        )
        assert aws.ensure_usage_limit(s, arn) == "created"
        stub.add_response(
            "list_usage_limits",
            {"usageLimits": [{"usageLimitId": "u1", "period": "daily"}]},
            {"resourceArn": arn, "usageType": "serverless-compute"},
        )
        stub.add_response(
            "update_usage_limit",
            {"usageLimit": {"usageLimitId": "u1"}},
            {"usageLimitId": "u1", "amount": 24, "breachAction": "deactivate"},
        )
        assert aws.ensure_usage_limit(s, arn) == "updated"
        stub.assert_no_pending_responses()
