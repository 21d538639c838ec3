"""What the tests add to moto so that it answers like AWS for the calls the project makes.

* moto checks a policy's ``Resource`` only where it knows the request's resource (S3, IAM, STS, SQS); for other
  services it checks against ``*``, which a least-privilege statement naming an ARN never matches. The calls the
  Airflow role makes outside S3 — ``secretsmanager:GetSecretValue`` and ``redshift:GetClusterCredentials`` — are
  taught their resource ARN here, so their policies are checked by resource as on AWS.
* moto evaluates a bucket policy's condition without knowing the request (and a condition operator it does not
  know, such as ``Bool``, as met): the work bucket's TLS-only ``Deny`` would refuse everything. Here ``Bool`` is
  evaluated, and a request counts as over TLS — as every request botocore sends to AWS is (the tests talk HTTP
  to loopback).
* moto's CloudFormation names a Redshift cluster ``<stack>-Cluster-<random>`` whatever its ``ClusterIdentifier``
  says; CloudFormation uses the identifier (and the Airflow role's policy names the cluster by it).
* moto's CloudFormation keeps a role's inline policy as the template's mapping, which moto's own policy engine
  cannot read (``KeyError: 'policy_document'``): it is read here as the document it is.
* The Redshift Data API's statements never finish in moto (it has no warehouse); here they finish at once. What
  they asked for is kept for the test to read (``moto.redshiftdata`` backend, ``query_string``).
"""

from __future__ import annotations

import json
from typing import Any

REQUEST_CONTEXT = {"aws:SecureTransport": "true"}  # what AWS knows of a request from botocore (HTTPS)


def conditions_hold(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    """IAM's ``Bool`` and ``StringEquals`` against a request's context; any other operator is an error here."""
    for operator, tests in condition.items():
        if operator not in ("Bool", "StringEquals"):
            raise NotImplementedError(f"condition operator {operator} is not emulated")
        for key, expected in tests.items():
            values = expected if isinstance(expected, list) else [expected]
            if str(context.get(key)).lower() not in [str(v).lower() for v in values]:
                return False
    return True


def teach_moto() -> None:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.redshift.responses import RedshiftResponse
    from moto.redshiftdata import models as redshiftdata
    from moto.s3.models import FakeBucket
    from moto.secretsmanager.responses import SecretsManagerResponse

    def bucket_permission(self, action: str, resource: str):
        """A bucket policy as S3 evaluates it: a statement applies when its action, resource and conditions match
        (moto's own evaluator denies when a condition does not match, which inverts a conditional Deny)."""
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy.decode())["Statement"]
        result = PermissionResult.NEUTRAL
        for st in statements if isinstance(statements, list) else [statements]:
            matcher = IAMPolicyStatement(st)
            if not (
                matcher._check_element_matches("Action", action)
                and matcher._check_element_matches("Resource", resource)
            ):
                continue
            if not conditions_hold(st.get("Condition", {}), REQUEST_CONTEXT):
                continue
            if st["Effect"] == "Deny":
                return PermissionResult.DENIED
            result = PermissionResult.PERMITTED
        return result

    FakeBucket.get_permission = bucket_permission

    from moto.iam import access_control
    from moto.redshift.models import Cluster

    Cluster.cloudformation_name_type = staticmethod(lambda: "ClusterIdentifier")

    policy_init = access_control.IAMPolicy.__init__

    def read_mapping(self, policy: Any) -> None:
        if isinstance(policy, dict) and "Statement" in policy:
            policy = json.dumps(policy)
        policy_init(self, policy)

    access_control.IAMPolicy.__init__ = read_mapping

    def secret_resource(self) -> str:
        secret_id = self._get_param("SecretId") or ""
        if secret_id.startswith("arn:"):
            return secret_id
        # AWS appends six random characters to a secret's ARN; policies name it with a trailing wildcard.
        return f"arn:aws:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}-??????"

    def redshift_resource(self) -> str:
        if self._get_action() != "GetClusterCredentials":
            return "*"
        cluster, user = self._get_param("ClusterIdentifier"), self._get_param("DbUser")
        return f"arn:aws:redshift:{self.region}:{self.current_account}:dbuser:{cluster}/{user}"

    SecretsManagerResponse._determine_resource = secret_resource
    RedshiftResponse._determine_resource = redshift_resource

    original = redshiftdata.Statement.__init__

    def finished(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        self.status = "FINISHED"

    redshiftdata.Statement.__init__ = finished
