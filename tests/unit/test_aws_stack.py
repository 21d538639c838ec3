"""make aws-up / aws-down against moto's emulation of CloudFormation, IAM, EC2, Redshift and Secrets Manager.

In-process (``mock_aws``): nothing leaves the machine. moto has no Redshift Serverless, so the stack is deployed
with ``--warehouse provisioned`` here; the Serverless resources are checked by the plan and by cfn-lint.
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

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-west-2", "AWS_REGION": "us-west-2"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(aws, "LOCAL", tmp_path)
    monkeypatch.setattr(aws.Settings, "env_file", property(lambda s: tmp_path / "aws" / f"{s.prefix}.env"))
    with mock_aws():
        yield


def _document(doc):
    """A policy document as a dict. boto3 decodes AWS's; moto's CloudFormation stores an inline policy as the
    Python repr of the template's mapping, which comes back as text."""
    import ast

    return doc if isinstance(doc, dict) else ast.literal_eval(urllib.parse.unquote(doc))


def settings(**kw) -> aws.Settings:
    return aws.Settings(prefix="sparkifytest", warehouse="provisioned", data_bucket="sparkify-data",
                        allowed_cidr="203.0.113.7/32", poll_seconds=0.01, **kw)  # fmt: skip


def test_up_creates_the_role_warehouse_and_private_network_then_down_removes_them(moto, capsys):
    s = settings()
    assert aws.up(s) == 0
    printed = capsys.readouterr().out
    assert "stack sparkifytest-warehouse: created" in printed

    iam = aws.client("iam", s.region)
    role = iam.get_role(RoleName="sparkifytest-redshift-s3")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    principals = [st["Principal"] for st in trust["Statement"]]
    assert principals == [{"Service": ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]},
                          {"AWS": "arn:aws:iam::123456789012:root"}]  # Airflow's account, for its role_arn  # fmt: skip
    policies = {n: _document(iam.get_role_policy(RoleName=role["RoleName"], PolicyName=n)["PolicyDocument"])
                for n in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]}  # fmt: skip
    read = policies["read-data-bucket"]["Statement"]
    assert read[1] == {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::sparkify-data/*"}
    write = policies["write-copy-manifests"]["Statement"][1]
    assert write["Resource"] == "arn:aws:s3:::sparkify-data/sparkify-manifests/*"
    assert "s3:PutObject" in write["Action"]

    (cluster,) = aws.client("redshift", s.region).describe_clusters()["Clusters"]
    assert cluster["PubliclyAccessible"] is False
    assert cluster["Encrypted"] is True
    (sg_id,) = [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]]
    sg = aws.client("ec2", s.region).describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    assert [(r["FromPort"], [ip["CidrIp"] for ip in r["IpRanges"]]) for r in sg["IpPermissions"]] == [
        (5439, ["203.0.113.7/32"])
    ]

    secret = json.loads(aws.client("secretsmanager", s.region).get_secret_value(
        SecretId="sparkifytest/redshift-admin")["SecretString"])  # fmt: skip
    assert len(secret["password"]) == 32
    assert secret["password"] not in printed  # never printed
    env = s.env_file.read_text()
    assert stat.S_IMODE(s.env_file.stat().st_mode) == 0o600
    assert f"@{cluster['Endpoint']['Address']}:5439/dev'" in env
    assert role["Arn"] in env
    assert "AIRFLOW_VAR_SPARKIFY_S3_BUCKET=sparkify-data" in env

    # A second up changes nothing and keeps the password.
    assert aws.up(settings()) == 0
    second = capsys.readouterr().out
    assert "stack sparkifytest-warehouse: unchanged" in second, second[-1500:]
    assert f":{urllib.parse.quote(secret['password'], safe='')}@" in s.env_file.read_text()  # quoted in the URI
    again = json.loads(aws.client("secretsmanager", s.region).get_secret_value(
        SecretId="sparkifytest/redshift-admin")["SecretString"])  # fmt: skip
    assert again == secret

    # down deletes the stack and the secret, then checks what is left. moto's CloudFormation deletes the role
    # but not the Redshift cluster it made (an emulator gap: CloudFormation deletes it, DeletionPolicy: Delete),
    # and down says so instead of assuming.
    assert aws.down(settings()) == 1
    out = capsys.readouterr().out
    assert "stack sparkifytest-warehouse: deleted" in out
    assert "secret sparkifytest/redshift-admin: deleted" in out
    assert f"left behind after the stack was deleted (delete by hand): cluster {cluster['ClusterIdentifier']}" in out
    assert all(r["RoleName"] != "sparkifytest-redshift-s3" for r in iam.list_roles()["Roles"])
    assert aws.stack_status(aws.client("cloudformation", s.region), s.stack_name) is None
    assert aws.client("secretsmanager", s.region).list_secrets()["SecretList"] == []
    assert not s.env_file.exists()


def test_dry_run_touches_nothing(moto, capsys):
    assert aws.up(settings(), dry_run=True) == 0
    out = capsys.readouterr().out
    assert "create AWS::Redshift::Cluster" in out
    assert "dry run: nothing was created" in out
    assert aws.client("cloudformation", "us-west-2").list_stacks()["StackSummaries"] == []
    assert aws.client("secretsmanager", "us-west-2").list_secrets()["SecretList"] == []


def test_the_default_plan_is_serverless_and_private():
    rows = aws.plan(aws.Settings())
    kinds = {kind: (name, note) for kind, name, note in rows}
    assert kinds["AWS::RedshiftServerless::Workgroup"] == ("sparkify", "private (reachable inside the VPC only)")
    assert kinds["AWS::RedshiftServerless::Namespace"][0] == "sparkify"
    assert kinds["AWS::EC2::SecurityGroup"] == ("sparkify-warehouse", "no ingress")
    assert "AWS::Redshift::Cluster" not in kinds


def test_the_whole_internet_is_refused_unless_asked_for():
    with pytest.raises(SystemExit, match=r"refusing ingress from 0\.0\.0\.0/0"):
        aws.up(aws.Settings(allowed_cidr="0.0.0.0/0"), dry_run=True)
    assert aws.up(aws.Settings(allowed_cidr="0.0.0.0/0", allow_public=True), dry_run=True) == 0


def test_the_template_passes_cfn_lint():
    from cfnlint.api import lint_all

    problems = lint_all(aws.TEMPLATE.read_text())
    assert [str(p) for p in problems if p.rule.id[0] in "EW"] == []  # errors and warnings (not informational)
