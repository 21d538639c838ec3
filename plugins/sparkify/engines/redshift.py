"""Amazon Redshift: staging is Redshift's own ``COPY … FROM 's3://…' FORMAT AS JSON …``.

* COPY lands in a temporary table ``LIKE`` the staging table (COPY cannot fill ``staged_from``), from which the rows
  move to the destination with their origin. Incremental stages read exactly the pending keys through a manifest
  written under the run (``manifest_prefix``) in the project's work bucket — the source is never written to;
  other stages COPY each requested location. ``REGION`` is the source bucket's own.
* Redshift reads S3 as the role the warehouse connection names (extra ``copy_role_arn``: ``IAM_ROLE``); else, as
  the amazon provider's ``S3ToRedshiftOperator`` does, the AWS connection's ``role_arn``, else its keys, which are
  masked in logs and replaced by ``***`` in the COPY text that is logged. COPY takes no bind parameters, so every
  value in it is validated against a strict pattern before it is quoted.
* The tasks log in with IAM authentication when the connection's extra says ``"iam": true`` (the hook fetches a
  temporary password for the connection's user, or for the Serverless workgroup): no stored password.
* Lines rejected under ``MAXERROR`` are read back for that COPY and returned like the PostgreSQL engine's, so
  ``lines_rejected`` and ``load_errors`` mean the same on both: on a provisioned cluster from ``stl_load_errors``
  by ``PG_LAST_COPY_ID()`` (with the raw line); on Redshift Serverless, which has only the SYS views, from
  ``sys_load_error_detail`` by this session and the COPY's start time.
* DDL: ``include/sql/redshift/ddl`` holds the star schema's tables with sort and distribution keys.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.engines.base import Engine, StageRequest, StageResult
from sparkify.ingest.contracts import sample_shapes
from sparkify.ingest.records import EXCERPT_CHARS, Rejection
from sparkify.ingest.s3 import S3Object, S3Source, permission_needed
from sparkify.ingest.staging_ledger import STAGED_FROM
from sparkify.sql import ident, idents, render

LANDING = "stage_copy"  # temp table: COPY's landing place
HOST_SUFFIXES = (".redshift.amazonaws.com", ".redshift-serverless.amazonaws.com")
SERVERLESS_SUFFIX = ".redshift-serverless.amazonaws.com"
# Extras the project and the hook read; the driver (redshift_connector.connect) is not given them: it refuses
# keys it does not know, and with "iam" it would fetch credentials again, with its own AWS credentials.
NOT_FOR_THE_DRIVER = frozenset(
    {
        "engine",
        "copy_role_arn",
        "iam",
        "is_serverless",
        "serverless_work_group",
        "serverless_token_duration_seconds",
        "cluster_identifier",
        "aws_conn_id",
    }
)


class RedshiftEngine(Engine):
    """Amazon Redshift (provisioned or Serverless) through the amazon provider's ``RedshiftSQLHook``.

    Claims connections of type ``redshift`` and hosts under ``.redshift.amazonaws.com`` /
    ``.redshift-serverless.amazonaws.com``. Stage options (``engine_options={"redshift": {...}}``):

    * ``region`` — the source bucket's region (default: asked of S3);
    * ``manifest_prefix`` — where incremental COPY manifests go in the work bucket (the tasks write there; the COPY
      role reads there);
    * ``shape_sample_bytes`` — with a source contract, how much of each JSON-lines object's head and tail the
      worker reads to measure its shape (default 1 MiB each; the COPY reads the rest);
    * ``shape_sample_documents`` — with a source contract, how many one-document objects it reads (default 1,000).
    """

    name = "redshift"
    stage_options: ClassVar[dict[str, Any]] = {
        "region": None,
        "manifest_prefix": "sparkify-manifests/",
        "shape_sample_bytes": 1 << 20,
        "shape_sample_documents": 1000,
    }

    @classmethod
    def claims(cls, conn: Any) -> bool:
        return conn.conn_type == "redshift" or (conn.host or "").lower().endswith(HOST_SUFFIXES)

    @classmethod
    def make_hook(cls, conn_id: str) -> Any:
        return warehouse_hook_class()(redshift_conn_id=conn_id)

    def cursor(self, conn: Any) -> Any:
        cur = conn.cursor()
        cur.paramstyle = "pyformat"  # the SQL files use %(name)s placeholders, like psycopg
        return cur

    def lock_table(self, table: str) -> str:
        return render(sql.SQL("LOCK {}").format(ident(table, "table")))

    @property
    def serverless(self) -> bool:
        """Redshift Serverless (no STL views): by the connection's host, or its ``is_serverless`` extra."""
        conn = self.hook.get_connection(self.conn_id)
        extra = conn.extra_dejson or {}
        return bool(extra.get("is_serverless")) or (conn.host or "").lower().endswith(SERVERLESS_SUFFIX)

    # ----------------------------------------------------------------------------------------------------------
    def stage(self, cur: Any, request: StageRequest) -> StageResult:
        """COPY per requested location, or — ``by_object`` — exactly the pending keys through manifests: one for
        them all where rows are replaced by key (their origin is the manifest), else one per object, so that each
        row records its object and a new version of it replaces exactly its rows."""
        source = request.source
        if request.shapes is not None:  # COPY reads the objects, not this worker: measure their shape on a sample
            self._sample_shapes(request)
        credentials = copy_credentials(source.hook, self.hook.get_connection(self.conn_id))
        region = self._region(request)
        landing = ident(LANDING)
        cur.execute(render(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(landing, ident(request.staging_table))))
        data_columns = idents([c.name for c in request.columns])
        staged, rejections = 0, []
        for source_uri, manifest, origin in self._copy_units(request):
            copy = dict(
                table_sql=render(landing),
                columns_sql=render(data_columns),
                s3_uri=source_uri,
                credentials=credentials,
                region=region,
                json_paths_uri=None if request.json_paths is None else source.uri(request.json_paths),
                epoch_millis=True,
                max_errors=request.max_errors,
                manifest=manifest,
            )
            self.log.info("running on Redshift:\n%s", redshift_copy_sql(**copy, redacted=True))
            copy_started = self._now(cur) if request.max_errors and self.serverless else None
            cur.execute(redshift_copy_sql(**copy))  # never logged: it may hold credentials
            if request.max_errors:
                rejections += self.copy_rejections(cur, source, copy_started)
            insert = sql.SQL("INSERT INTO {} ({}, {}) SELECT {}, %(staged_from)s FROM {}").format(
                ident(request.destination), data_columns, ident(STAGED_FROM), data_columns, landing
            )
            cur.execute(render(insert), {"staged_from": origin})
            staged += max(cur.rowcount, 0)
            cur.execute(render(sql.SQL("DELETE FROM {}").format(landing)))
        cur.execute(render(sql.SQL("DROP TABLE {}").format(landing)))
        return StageResult(staged, rejections)

    def _copy_units(self, request: StageRequest) -> list[tuple[str, bool, str]]:
        """(what COPY reads, whether it is a manifest, the rows' origin) for each COPY the request takes."""
        source = request.source
        if request.by_object and not request.origin_matters:
            manifest = self.write_manifest(request, request.objects, request.task_id)
            return [(manifest, True, manifest)]
        if request.by_object:
            return [
                (self.write_manifest(request, [o], f"{request.task_id}.{i}"), True, source.uri(o.key))
                for i, o in enumerate(request.objects)
            ]
        locations = dict.fromkeys(o.location for o in request.objects)
        return [(source.uri(loc), False, source.uri(loc)) for loc in locations]

    def _region(self, request: StageRequest) -> str:
        """The REGION of the COPY: the option, else the source bucket's; a work bucket elsewhere is refused."""
        source = request.source
        region = request.options["region"] or source.region()
        if request.by_object and request.work is not None and (work_region := request.work.region()) != region:
            raise AirflowFailException(
                f"the source bucket {source.bucket} is in {region} but the work bucket {request.work.bucket} is in "
                f"{work_region}: one COPY reads its manifest and its objects with one REGION — use a work bucket in "
                f"{region}"
            )
        return region

    def _sample_shapes(self, request: StageRequest) -> None:
        sampled = sample_shapes(
            request.source,
            request.objects,
            request.shapes,
            request.shape_unit,
            lines=request.json_layout == "lines",
            sample_bytes=int(request.options["shape_sample_bytes"]),
            max_documents=int(request.options["shape_sample_documents"]),
        )
        self.log.info(
            "read %s bytes of %s objects to measure their shape against the %s contract",
            f"{sampled:,}",
            f"{len(request.objects):,}",
            request.shapes.contract.name,
        )

    def copy_rejections(self, cur: Any, source: S3Source, copy_started: Any = None) -> list[Rejection]:
        """The lines the last COPY of this session rejected under MAXERROR."""
        if copy_started is None:
            cur.execute(self.read_sql("staging_ledger/copy_rejections.sql"))
        else:
            cur.execute(self.read_sql("staging_ledger/copy_rejections_serverless.sql"), {"copy_started": copy_started})
        prefix = source.uri("")
        return [
            Rejection(uri.strip().removeprefix(prefix), int(line), reason.strip(), raw and raw.strip()[:EXCERPT_CHARS])
            for uri, line, raw, reason in cur.fetchall()
        ]

    @staticmethod
    def _now(cur: Any) -> Any:
        cur.execute("SELECT GETDATE()")
        return cur.fetchone()[0]

    def write_manifest(self, request: StageRequest, objects: list[S3Object], name: str) -> str:
        """A COPY manifest naming exactly ``objects``, in the work bucket under a run-specific key; its URI."""
        if request.work is None:
            raise AirflowFailException(
                f"{request.task_id}: an incremental COPY reads its objects through a manifest, which goes to the "
                "project's work bucket — give the stage operator work_bucket=… (the source bucket is read only)"
            )
        run = re.sub(r"[^A-Za-z0-9_.-]", "_", request.run_id or "manual")
        prefix = request.options["manifest_prefix"].rstrip("/")
        key = f"{prefix}/{request.dag_id}/{run}/{name}.manifest"
        entries = [{"url": request.source.uri(o.key), "mandatory": True} for o in objects]
        request.work.write_text(key, json.dumps({"entries": entries}))
        self.log.info("wrote a COPY manifest of %s objects to %s", f"{len(objects):,}", request.work.uri(key))
        return request.work.uri(key)


@functools.cache
def warehouse_hook_class() -> type:
    """The amazon provider's ``RedshiftSQLHook``, connecting with :func:`driver_arguments` (the provider's own
    ``get_conn`` hands every extra to the driver, which refuses the project's and redoes the IAM login)."""
    import redshift_connector
    from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

    class WarehouseHook(RedshiftSQLHook):
        def get_conn(self) -> Any:
            return redshift_connector.connect(**driver_arguments(self))

    return WarehouseHook


def driver_arguments(hook: Any) -> dict[str, Any]:
    """What ``redshift_connector.connect`` is given: the connection's endpoint and user, the password or — with
    ``"iam": true`` — the temporary one the hook gets from AWS, and the extras meant for the driver."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    conn = hook.get_connection(hook.get_conn_id())
    extra = conn.extra_dejson or {}
    if extra.get("iam"):
        with permission_needed(AwsBaseHook(aws_conn_id=hook.aws_conn_id), *credentials_call(conn)):
            user, password, port = hook.get_iam_token(conn)
    else:
        user, password, port = conn.login, conn.password, conn.port
    found = {"user": user, "password": password, "host": conn.host, "port": port or 5439, "database": conn.schema}
    driver = {k: v for k, v in extra.items() if k not in NOT_FOR_THE_DRIVER}
    return {**{k: v for k, v in found.items() if v}, **driver}


def credentials_call(conn: Any) -> tuple[str, str]:
    """The action and resource of the hook's IAM login, as a policy names them (for a refusal's message)."""
    extra = conn.extra_dejson or {}
    if extra.get("is_serverless"):
        return "redshift-serverless:GetCredentials", f"workgroup {extra.get('serverless_work_group')}"
    cluster = extra.get("cluster_identifier") or (conn.host or "").split(".", 1)[0]
    return "redshift:GetClusterCredentials", f"dbuser:{cluster}/{conn.login} (database {conn.schema})"


def copy_credentials(s3_hook: Any, warehouse: Any = None) -> CopyCredentials:
    """How Redshift reads the bucket: the role the warehouse connection names (``copy_role_arn``), else the AWS
    connection's ``role_arn``, else the AWS connection's keys (masked in logs)."""
    from airflow.sdk.log import mask_secret

    copy_role = ((warehouse.extra_dejson or {}).get("copy_role_arn") if warehouse is not None else None) or None
    if copy_role:
        return CopyCredentials(iam_role=copy_role)
    role_arn = (s3_hook.conn_config.extra_config or {}).get("role_arn") if s3_hook.conn_config else None
    if role_arn:
        return CopyCredentials(iam_role=role_arn)
    creds = s3_hook.get_credentials()
    for secret in (creds.secret_key, creds.token):
        if secret:
            mask_secret(secret)
    return CopyCredentials(
        access_key_id=creds.access_key, secret_access_key=creds.secret_key, session_token=creds.token
    )


# --------------------------------------------------------------------------------------------------------------
# COPY text
# --------------------------------------------------------------------------------------------------------------
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^\x00-\x1f\x7f\\']*)?$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_CREDENTIAL = re.compile(r"^[A-Za-z0-9/+=]{1,2048}$")


def _literal(value: str, pattern: re.Pattern[str], what: str) -> str:
    """A validated value as a SQL string literal (COPY takes no bind parameters)."""
    if not pattern.match(value):
        raise ValueError(f"invalid {what}: {value if what != 'credential' else '***'!r}")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class CopyCredentials:
    """How Redshift authenticates to S3: an IAM role (preferred) or keys from the AWS connection."""

    iam_role: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    def clause(self, redacted: bool) -> str:
        if self.iam_role:
            return f"IAM_ROLE {_literal(self.iam_role, _ROLE_ARN, 'IAM role ARN')}"
        if not (self.access_key_id and self.secret_access_key):
            raise ValueError("Redshift COPY needs role_arn in the AWS connection's extra, or its access keys")

        def secret(value: str) -> str:
            return "'***'" if redacted else _literal(value, _CREDENTIAL, "credential")

        text = f"ACCESS_KEY_ID {secret(self.access_key_id)} SECRET_ACCESS_KEY {secret(self.secret_access_key)}"
        if self.session_token:
            text += f" SESSION_TOKEN {secret(self.session_token)}"
        return text


def redshift_copy_sql(
    *,
    table_sql: str,
    columns_sql: str,
    s3_uri: str,
    credentials: CopyCredentials,
    region: str | None,
    json_paths_uri: str | None,
    epoch_millis: bool,
    max_errors: int,
    manifest: bool = False,
    redacted: bool = False,
) -> str:
    """Redshift ``COPY`` of JSON under ``s3_uri`` into a table (already-quoted table and column list).

    With ``redacted=True`` the credentials are replaced by ``***``: that text is what gets logged.
    """
    json_format = "'auto'" if json_paths_uri is None else _literal(json_paths_uri, _S3_URI, "JSONPaths S3 URI")
    lines = [
        f"COPY {table_sql} ({columns_sql})",
        f"FROM {_literal(s3_uri, _S3_URI, 'S3 URI')}",
        credentials.clause(redacted),
    ]
    if region:
        lines.append(f"REGION {_literal(region, _REGION, 'region')}")
    lines.append(f"FORMAT AS JSON {json_format}")
    if epoch_millis:
        lines.append("TIMEFORMAT 'epochmillisecs'")
    lines.append("STATUPDATE OFF COMPUPDATE OFF")
    if manifest:
        lines.append("MANIFEST")
    if max_errors:
        lines.append(f"MAXERROR {int(max_errors)}")
    return "\n".join(lines)
