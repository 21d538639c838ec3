"""Day one on AWS, rehearsed offline: docs/aws.md's commands, one for one, against moto's server with
IAM enforcement on.

1. moto starts with ``INITIAL_NO_AUTH_ACTION_COUNT`` set to the six calls that make two IAM users — a deployer
   (an administrator, as whoever runs ``make aws-up``) and ``airflow-host`` (the identity Airflow runs as: it may
   only assume the Airflow role). Every later call is checked against IAM policies, as on AWS.
2. As the deployer, a source bucket is filled with a generated day (someone else's bucket, as ``udacity-dend`` is).
3. ``make aws-up``'s command (provisioned: moto has no Serverless) creates the stack, the work bucket and the
   secrets, and writes the settings file.
4. Airflow is configured the documented way — that file, through the same code as ``make airflow AWS_ENV=…``
   (``AirflowStack.for_aws``) — and ``airflow dags test`` runs the tasks that call AWS (``stage_events``,
   ``stage_songs``, ``publish_report``) as ``airflow-host``; the rest are marked successful. The warehouse
   connection is answered by a recording double of ``redshift_connector`` (scripted answers for what the tasks
   read back); nothing pretends to run Redshift's SQL.
5. Checked: every AWS call the tasks made (recorded from botocore's events) was allowed and made as the Airflow
   role; every statement parses as Redshift SQL; every object a COPY names exists and the COPY role may read it
   (its policies evaluated by moto's policy engine); every write landed in the work bucket; the source is
   unchanged; the tasks logged in with IAM credentials. A call the policies do not allow fails at once, naming
   the principal, the action and the resource.
6. ``make aws-down``'s command leaves nothing behind.

What moto cannot show is said in docs/aws.md; ``tests/aws_emulation.py`` lists what the
emulator is taught so that it answers as AWS does.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlfluff

from sparkify import engines
from sparkify.schema import create_tables
from tests.conftest import REHEARSAL_AWS_PORT, ROOT, TEST_STATE, ScratchWarehouse
from tools import paths, postgres_server, processes, targets

LOG = logging.getLogger(__name__)

pytestmark = pytest.mark.airflow

ACCOUNT = "123456789012"
REGION = "us-west-2"
ENDPOINT = f"http://127.0.0.1:{REHEARSAL_AWS_PORT}"
DOUBLE = Path(__file__).parent / "warehouse_double"
DAY = date(2018, 11, 15)
HOUR = "2018-11-15T16:00:00+00:00"
BOOTSTRAP_CALLS = 6  # create the two users, their policies and their keys; everything after is enforced


def aws_client(service: str, keys: tuple[str, str]):
    import boto3

    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=keys[0], aws_secret_access_key=keys[1]
    )


def policy_document(doc) -> dict:
    """moto's CloudFormation keeps an inline policy as the template mapping's Python repr."""
    return doc if isinstance(doc, dict) else ast.literal_eval(urllib.parse.unquote(doc))


@pytest.fixture(scope="module")
def emulated_aws(tmp_path_factory):
    """moto's server on loopback with IAM enforcement after the bootstrap; the two users' keys."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {
        **targets.without_targets(os.environ, keep_aws_credentials=False),
        "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_CALLS),
        "PYTHONPATH": str(ROOT),
    }
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.rehearsal.moto_server", str(REHEARSAL_AWS_PORT)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not processes.port_open(REHEARSAL_AWS_PORT):
            assert server.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        iam = aws_client("iam", ("bootstrap", "bootstrap"))
        iam.create_user(UserName="deployer")
        iam.put_user_policy(
            UserName="deployer",
            PolicyName="administrator",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        deployer = iam.create_access_key(UserName="deployer")["AccessKey"]
        iam.create_user(UserName="airflow-host")
        yield iam, deployer, log
    finally:
        server.terminate()
        server.wait(timeout=20)


def keys(access_key: dict) -> tuple[str, str]:
    return access_key["AccessKeyId"], access_key["SecretAccessKey"]


def test_day_one_on_aws(emulated_aws, tmp_path, admin_dsn, monkeypatch):
    iam, deployer_key, _ = emulated_aws
    prefix = f"rehearsal{uuid.uuid4().hex[:6]}"
    airflow_role = f"arn:aws:iam::{ACCOUNT}:role/{prefix}-airflow"
    iam.put_user_policy(
        UserName="airflow-host",
        PolicyName="assume-the-airflow-role",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": airflow_role}],
            }
        ),
    )
    host_key = iam.create_access_key(UserName="airflow-host")["AccessKey"]  # the sixth call: enforcement from here
    deployer, host = keys(deployer_key), keys(host_key)
    with pytest.raises(Exception, match=r"InvalidAccessKeyId"):
        aws_client("s3", ("bootstrap", "bootstrap")).list_buckets()  # enforcement is on
    with pytest.raises(Exception, match=r"AccessDenied|403"):
        aws_client("s3", host).list_buckets()  # airflow-host itself may do nothing but assume the role

    # 2. Someone else's source bucket, holding a generated day in the course layout.
    source = f"{prefix}-source"
    data = tmp_path / "data"
    from tools.datagen import generate

    generate(data, seed=11, n_songs=20, days=1, start=DAY)
    s3 = aws_client("s3", deployer)
    s3.create_bucket(Bucket=source, CreateBucketConfiguration={"LocationConstraint": REGION})
    files = [p for p in sorted(data.rglob("*.json"))]
    for path in files:
        s3.put_object(Bucket=source, Key=path.relative_to(data).as_posix(), Body=path.read_bytes())
    source_before = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=source)["Contents"])

    # 3. make aws-up, as the deployer.
    aws_env = {
        **targets.without_targets(os.environ, keep_aws_credentials=False),
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_ACCESS_KEY_ID": deployer[0],
        "AWS_SECRET_ACCESS_KEY": deployer[1],
        "AWS_DEFAULT_REGION": REGION,
    }
    host_principal = f"arn:aws:iam::{ACCOUNT}:user/airflow-host"
    make_args = [f"AWS_PREFIX={prefix}", "WAREHOUSE=provisioned"]  # docs/aws.md's commands, with this run's names
    up = subprocess.run(
        [
            "make",
            "-s",
            "aws-up",
            *make_args,
            f"DATA_BUCKET={source}",
            f"TRUSTED_PRINCIPAL={host_principal}",
            "ALLOWED_CIDR=203.0.113.7/32",
        ],
        env=aws_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    settings_file = paths.LOCAL / "aws" / f"{prefix}.env"
    assert f"make airflow AWS_ENV=.local/aws/{prefix}.env" in up.stdout
    work = f"{prefix}-work-{ACCOUNT}-{REGION}"
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in aws_client("cloudformation", deployer).describe_stacks(StackName=f"{prefix}-warehouse")["Stacks"][0][
            "Outputs"
        ]
    }
    copy_role = outputs["CopyRoleArn"]

    try:
        # 4. Airflow, configured by that file as make airflow AWS_ENV=… does, runs as airflow-host.
        from tools.airflow_stack import AirflowStack

        af = AirflowStack.for_aws(
            settings_file, home=TEST_STATE / f"airflow-{prefix}", metadata_db=f"airflow_{prefix}", components=()
        )
        run = tmp_path / "run"
        run.mkdir()
        answers = warehouse_answers(admin_dsn, run / "answers.json", data)
        env = {
            **af.env(),
            "AWS_ENDPOINT_URL": ENDPOINT,
            "AWS_ACCESS_KEY_ID": host[0],
            "AWS_SECRET_ACCESS_KEY": host[1],
            "PYTHONPATH": f"{DOUBLE}{os.pathsep}{af.env()['PYTHONPATH']}",
            "SPARKIFY_WAREHOUSE_DOUBLE_LOG": str(run / "warehouse.jsonl"),
            "SPARKIFY_WAREHOUSE_DOUBLE_ANSWERS": str(answers),
            "SPARKIFY_AWS_CALL_LOG": str(run / "aws.jsonl"),
        }
        assert not any(k.startswith("AIRFLOW_CONN_") for k in env)  # connections come from Secrets Manager only
        af.ensure_metadata_db()

        # The start's report of what it uses, read through the secrets backend as the Airflow role.
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(key, env[key])
        conns, variables = targets.aws_lookup(af.aws_settings)
        shown = targets.report("aws", conns, variables)
        assert "redshift: redshift://airflow_etl@" in shown, shown
        assert "(no stored password)" in shown, shown
        assert variables == {"sparkify_s3_bucket": source, "sparkify_work_bucket": work}

        dags_test(env, "sparkify_etl", HOUR, "load_.*|run_quality_checks|publish", run / "sparkify_etl.log")
        dags_test(env, "sparkify_analytics", HOUR, "build_analytics_tables", run / "sparkify_analytics.log")

        # 5a. Every AWS call was allowed, and the tasks' calls were made as the Airflow role.
        calls = [json.loads(line) for line in (run / "aws.jsonl").read_text().splitlines()]
        issued = {c["issued_key"]: c["params"]["RoleArn"] for c in calls if c.get("issued_key")}
        who = {deployer[0]: "user/deployer", host[0]: "user/airflow-host", **issued}
        denied = [
            f"{who.get(c['access_key'], c['access_key'])} may not {c['service']}:{c['operation']} on {c['params']}"
            for c in calls
            if c["error"] in ("AccessDenied", "AccessDeniedException", "403")
        ]
        assert denied == []
        assert [c for c in calls if c["status"] >= 300] == []
        made_by = {(who.get(c["access_key"]), c["service"], c["operation"]) for c in calls}
        assert made_by == {
            ("user/airflow-host", "sts", "AssumeRole"),
            (airflow_role, "secretsmanager", "GetSecretValue"),
            (airflow_role, "s3", "HeadObject"),
            (airflow_role, "s3", "GetObject"),  # the head and tail of each object, to measure its shape
            (airflow_role, "s3", "ListObjectsV2"),
            (airflow_role, "s3", "GetBucketLocation"),
            (airflow_role, "s3", "PutObject"),
            (airflow_role, "redshift", "GetClusterCredentials"),
        }, made_by
        assert {c["params"]["RoleArn"] for c in calls if c["operation"] == "AssumeRole"} == {airflow_role}

        # 5b. Every write landed in the work bucket: manifests and reports. The source is unchanged.
        writes = [
            (c["params"]["Bucket"], c["params"]["Key"].split("/")[0]) for c in calls if c["operation"] == "PutObject"
        ]
        assert set(writes) == {(work, "sparkify-manifests"), (work, "reports")}
        assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=source)["Contents"]) == source_before
        assert s3.get_object(Bucket=work, Key="reports/latest.html")["Body"].read().startswith(b"<!DOCTYPE html>")

        # 5c. The warehouse: IAM login, statements that parse, COPYs whose every object exists and is readable
        # by the COPY role.
        warehouse = [json.loads(line) for line in (run / "warehouse.jsonl").read_text().splitlines()]
        logins = [w["connect"] for w in warehouse if "connect" in w]
        assert logins, "the tasks never connected to the warehouse"
        assert all(w["user"] == "IAM:airflow_etl" for w in logins), logins
        assert all(w["password"] == "<32 characters>" for w in logins)  # GetClusterCredentials' temporary one
        assert not any(k in w for w in logins for k in ("iam", "copy_role_arn", "cluster_identifier"))
        statements = [w["statement"] for w in warehouse if "statement" in w]
        for statement in statements:
            parsed = sqlfluff.parse(statement.replace("%(", "'").replace(")s", "'"), dialect="redshift")
            assert "unparsable" not in str(parsed), statement
        copies = [s for s in statements if s.startswith("COPY ")]
        assert len(copies) == 2  # the day's log (one manifest), the new songs (one manifest)
        readable = copy_role_reader(deployer, copy_role)
        for copy in copies:
            assert f"IAM_ROLE '{copy_role}'" in copy
            assert f"REGION '{REGION}'" in copy
            named = [
                line.split("'")[1] for line in copy.splitlines() if line.startswith(("FROM", "FORMAT AS JSON 's3"))
            ]
            for uri in named:
                readable(uri)
                if uri.endswith(".manifest"):
                    for entry in json.loads(read(s3, uri))["entries"]:
                        readable(entry["url"])
        songs_manifest = next(
            line.split("'")[1]
            for c in copies
            for line in c.splitlines()
            if line.startswith("FROM") and "stage_songs" in line
        )
        assert len(json.loads(read(s3, songs_manifest))["entries"]) == 20

        # 5d. A call the policies do not allow fails at once, naming the principal, the action and the resource.
        from sparkify.ingest.s3 import AccessDeniedError, S3Source

        monkeypatch.setenv(
            "AIRFLOW_CONN_AWS_DEFAULT",
            json.dumps({"conn_type": "aws", "extra": {"region_name": REGION, "role_arn": airflow_role}}),
        )
        with pytest.raises(AccessDeniedError) as denied_write:
            S3Source("aws_default", source).write_text("sparkify-manifests/x.manifest", "{}")
        assert f"assumed-role/{prefix}-airflow/" in str(denied_write.value)
        assert f"may not s3:PutObject on arn:aws:s3:::{source}/sparkify-manifests/x.manifest" in str(denied_write.value)
    finally:
        # 6. make aws-down leaves nothing behind.
        down = subprocess.run(
            ["make", "-s", "aws-down", *make_args],
            env=aws_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        postgres_server.psql(f"DROP DATABASE IF EXISTS airflow_{prefix} WITH (FORCE)")
    assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-3000:]
    assert "nothing left behind" in down.stdout
    assert not settings_file.exists()
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [source]  # only the source, which is not ours


def dags_test(env: dict[str, str], dag_id: str, logical_date: str, mark_success: str, out: Path) -> str:
    """``airflow dags test`` of one run, the tasks matching ``mark_success`` marked successful; its output (kept
    in ``out``). A failed task is not waited for: its retries would take 15 minutes."""
    with open(out, "w") as log:
        proc = subprocess.Popen(
            [
                str(paths.VENV_BIN / "airflow"),
                "dags",
                "test",
                dag_id,
                logical_date,
                "--mark-success-pattern",
                mark_success,
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 240
        while proc.poll() is None:
            text = out.read_text(errors="replace")
            if "new_state=up_for_retry" in text or "new_state=failed" in text or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                break
            time.sleep(1)
    text = out.read_text(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    return text


def read(s3, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def copy_role_reader(deployer: tuple[str, str], role_arn: str):
    """A check that an S3 URI exists and that the COPY role's policies allow ``s3:GetObject`` on it (moto's
    policy engine; moto cannot assume a role trusted only by a service)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    iam, s3 = aws_client("iam", deployer), aws_client("s3", deployer)
    name = role_arn.rsplit("/", 1)[1]
    documents = [
        policy_document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
    ]

    def readable(uri: str) -> None:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        s3.head_object(Bucket=bucket, Key=key)  # it exists
        results = [
            IAMPolicy(json.dumps(d)).is_action_permitted("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
            for d in documents
        ]
        assert PermissionResult.DENIED not in results, f"the COPY role {role_arn} is denied s3:GetObject on {uri}"
        assert PermissionResult.PERMITTED in results, f"the COPY role {role_arn} may not s3:GetObject on {uri}"

    return readable


def warehouse_answers(admin_dsn: str, path: Path, data: Path) -> Path:
    """What the tasks read back from the warehouse, scripted: the staging tables' columns (as ``begin`` creates
    them, read from a scratch PostgreSQL warehouse), nothing staged before, the rows each COPY's INSERT moves (the
    source's own counts), and the analytics tables of a warehouse with no plays yet."""
    wh = ScratchWarehouse(admin_dsn, f"test_rehearsal_{uuid.uuid4().hex[:8]}")
    try:
        with wh.as_redshift_connection():
            create_tables(engines.resolve("redshift"), LOG)  # what the DAG's begin task runs
        columns = {
            table: wh.query(
                "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
                "WHERE table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            for table in ("staging_events", "staging_songs")
        }
    finally:
        wh.drop()
    songs = len(list(data.glob("song_data/**/*.json")))
    log_lines = sum(1 for p in data.glob("log_data/**/*.json") for line in p.read_text().splitlines() if line.strip())
    answers = {
        **{rf'information_schema\.columns.*"table_name": "{t}"': {"rows": rows} for t, rows in columns.items()},
        r'^INSERT INTO "staging_events" .* FROM "stage_copy"': {"rowcount": log_lines},
        r'^INSERT INTO "stage_incoming" .* FROM "stage_copy"': {"rowcount": songs},
        r"star_schema_coverage|first_play": {
            "columns": ["first_play", "last_play", "songplays", "users", "songs", "artists"],
            "rows": [[None, None, 0, 0, 0, 0]],
        },
        # Aggregates answer one row even over no plays or verdicts (the rest of the analytics tables are empty).
        r"AS published_from": {"columns": ["published_from", "published_to", "held_back"], "rows": [[None, None, 0]]},
        r'"analytics"\."song_resolution"': {
            "columns": ["plays", "resolved_plays", "unresolved_plays", "resolved_pct"],
            "rows": [[0, 0, 0, None]],
        },
    }
    path.write_text(json.dumps(answers))
    return path
