"""StageToRedshiftOperator: JSON objects in S3 → a warehouse staging table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.sql import ident, idents, read_sql, render, validate_identifier
from sparkify.staging import (
    STAGED_FROM,
    Column,
    CopyCredentials,
    JsonRecordReader,
    RejectedLine,
    excerpt,
    iter_lines,
    parse_jsonpaths_file,
    prefetch,
    redshift_copy_sql,
)
from sparkify.warehouse import ConnectionNotConfiguredError, Warehouse, get_connection

if TYPE_CHECKING:
    from airflow.sdk import Context

LAYOUTS = ("lines", "document")


class StageToRedshiftOperator(BaseOperator):
    """
    Stage JSON objects from S3 into a staging table of the warehouse.

    Re-staging a location replaces exactly the rows staged from it before (rows carry the S3 location they
    came from in ``staged_from``), in one transaction: readers see the old rows or the new ones, never a mix,
    and concurrent runs staging the same location serialise on a table lock.

    How the rows get there depends on the warehouse connection (see :mod:`sparkify.warehouse`):

    * **Redshift** runs ``COPY … FROM 's3://…' FORMAT AS JSON …`` itself (JSONPaths or ``'auto'``,
      ``TIMEFORMAT 'epochmillisecs'``, ``REGION``, ``IAM_ROLE`` from the AWS connection's ``role_arn`` extra,
      else its access keys — which are masked in logs).
    * **PostgreSQL** streams each object from S3 through a JSON parser into ``COPY … FROM STDIN``, line by line,
      mapping and coercing values the way Redshift's COPY does. Objects are fetched on a few threads ahead of the
      writer; no object is held whole in memory in the ``lines`` layout.

    :param table: staging table (validated, quoted).
    :param s3_bucket: bucket name. (templated)
    :param s3_key: an object key, a prefix ending in ``/`` (every object under it), or a list of those;
        typically rendered from the run's data interval. A missing object, or a prefix with no objects,
        fails the task with the location. (templated)
    :param json_paths: key of a JSONPaths file in the same bucket (positional mapping to the table's data
        columns), or ``"auto"`` to map JSON keys to column names case-insensitively. (templated)
    :param json_layout: ``"lines"`` (JSON lines: one record per line, rejections name the line number) or
        ``"document"`` (each object is one JSON document: one record). Only the PostgreSQL path reads it;
        Redshift's JSON COPY accepts both.
    :param max_errors: how many bad lines may be rejected before the task fails. Rejected lines are recorded
        in ``load_errors`` (run id, table, key, line, reason, excerpt) on PostgreSQL, and in Redshift's own
        ``sys_load_error_detail`` on Redshift. 0 (default) fails on the first bad line.
    :param redshift_conn_id: the warehouse connection.
    :param aws_conn_id: the AWS connection (S3 access; ``role_arn``/keys for Redshift COPY).
    :param region: the bucket's region for Redshift COPY (default: the AWS connection's region).
    :param fetch_workers: PostgreSQL path: how many objects to download concurrently.
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_key", "json_paths")
    ui_color = "#358140"

    def __init__(
        self,
        *,
        table: str,
        s3_bucket: str,
        s3_key: str | list[str],
        json_paths: str = "auto",
        json_layout: str = "lines",
        max_errors: int = 0,
        redshift_conn_id: str = "redshift",
        aws_conn_id: str = "aws_default",
        region: str | None = None,
        fetch_workers: int = 16,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.json_paths = json_paths
        self.json_layout = json_layout
        self.max_errors = max_errors
        self.redshift_conn_id = redshift_conn_id
        self.aws_conn_id = aws_conn_id
        self.region = region
        self.fetch_workers = fetch_workers

    # ----------------------------------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, int]:
        validate_identifier(self.table, "table")
        if self.json_layout not in LAYOUTS:
            raise AirflowFailException(f"json_layout must be one of {LAYOUTS}, got {self.json_layout!r}")
        try:
            warehouse = Warehouse.from_conn_id(self.redshift_conn_id)
            get_connection(self.aws_conn_id)
        except ConnectionNotConfiguredError as exc:
            raise AirflowFailException(str(exc)) from None
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from botocore.config import Config

        s3 = S3Hook(aws_conn_id=self.aws_conn_id, config=Config(max_pool_connections=self.fetch_workers + 4))
        client = s3.get_conn()
        started = time.monotonic()
        locations = [self.s3_key] if isinstance(self.s3_key, str) else list(self.s3_key)
        objects = {loc: self._objects_at(client, loc) for loc in locations}
        n_objects = sum(len(keys) for keys in objects.values())
        n_bytes = sum(size for keys in objects.values() for _, size in keys)

        with warehouse.transaction() as cur:
            columns = self._data_columns(cur)
            cur.execute(render(warehouse.lock_table(self.table)))
            replaced = 0
            for loc in locations:
                cur.execute(
                    render(sql.SQL("DELETE FROM {} WHERE {} = %(loc)s").format(ident(self.table), ident(STAGED_FROM))),
                    {"loc": self._uri(loc)},
                )
                replaced += max(cur.rowcount, 0)
            if warehouse.is_redshift:
                staged, rejected = self._copy_on_redshift(cur, s3, locations, columns)
            else:
                staged, rejected = self._stream_into_postgres(cur, client, objects, columns, context)

        elapsed = time.monotonic() - started
        self.log.info(
            "staged %s rows into %s from %s objects (%s) in %.1f s; %s lines rejected; %s previously staged rows "
            "of the same locations replaced",
            f"{staged:,}",
            self.table,
            f"{n_objects:,}",
            _human_bytes(n_bytes),
            elapsed,
            f"{rejected:,}",
            f"{replaced:,}",
        )
        return {"rows_staged": staged, "lines_rejected": rejected, "objects_read": n_objects, "bytes_read": n_bytes}

    # ----------------------------------------------------------------------------------------------------------
    def _uri(self, location: str) -> str:
        return f"s3://{self.s3_bucket}/{location}"

    def _objects_at(self, client: Any, location: str) -> list[tuple[str, int]]:
        """``(key, size)`` of every object a location names; a clear error when there is none."""
        if location.endswith("/"):
            found: list[tuple[str, int]] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.s3_bucket, Prefix=location):
                found.extend((o["Key"], o["Size"]) for o in page.get("Contents", []))
            if not found:
                raise RuntimeError(f"no objects under {self._uri(location)} — nothing to stage")
            return sorted(found)
        from botocore.exceptions import ClientError

        try:
            head = client.head_object(Bucket=self.s3_bucket, Key=location)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise RuntimeError(
                    f"missing input: no object at {self._uri(location)} (task {self.task_id}); "
                    "the source has not delivered it yet, or the key template does not match the bucket layout"
                ) from None
            raise
        return [(location, head["ContentLength"])]

    def _data_columns(self, cur: Any) -> list[Column]:
        schema, _, name = self.table.rpartition(".")
        cur.execute(read_sql("catalog/table_columns.sql"), {"table_schema": schema or None, "table_name": name})
        columns = [Column(n, t, m) for n, t, m in cur.fetchall()]
        if not columns:
            raise AirflowFailException(f"staging table {self.table} does not exist in the warehouse")
        data = [c for c in columns if c.name != STAGED_FROM]
        if len(data) == len(columns):
            raise AirflowFailException(f"staging table {self.table} has no {STAGED_FROM} column")
        return data

    # ----------------------------------------------------------------------------------------------------------
    def _stream_into_postgres(self, cur: Any, client: Any, objects: dict, columns: list[Column], context: Any):
        json_paths = None
        if self.json_paths != "auto":
            body = client.get_object(Bucket=self.s3_bucket, Key=self.json_paths)["Body"].read()
            try:
                json_paths = parse_jsonpaths_file(body)
            except ValueError as exc:
                raise AirflowFailException(f"{self._uri(self.json_paths)}: {exc}") from None
        try:
            reader = JsonRecordReader(columns, json_paths)
        except ValueError as exc:
            raise AirflowFailException(f"{self.table}: {exc}") from None

        def fetch(item: tuple[str, str]) -> Any:
            _, key = item
            body = client.get_object(Bucket=self.s3_bucket, Key=key)["Body"]
            if self.json_layout == "document":
                return body.read()
            return body  # streamed by the writer, chunk by chunk

        work = [(loc, key) for loc, keys in objects.items() for key, _ in keys]
        window = self.fetch_workers * (8 if self.json_layout == "document" else 1)
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            ident(self.table), idents([c.name for c in columns] + [STAGED_FROM])
        )
        staged = 0
        rejections: list[tuple[str, int, str, str]] = []
        with cur.copy(render(copy_sql)) as copy:
            for (loc, key), payload in prefetch(work, fetch, self.fetch_workers, window):
                staged_from = self._uri(loc)
                if self.json_layout == "document":
                    records: Any = [(1, payload)]
                else:
                    records = enumerate(iter_lines(payload.iter_chunks(1 << 20)), start=1)
                for line_number, line in records:
                    if not line.strip():
                        continue
                    try:
                        row = reader.parse_line(line)
                    except RejectedLine as exc:
                        rejections.append((key, line_number, exc.reason, excerpt(line)))
                        if len(rejections) > self.max_errors:
                            raise AirflowFailException(
                                f"{self._uri(key)} line {line_number}: {exc.reason} "
                                f"(rejected {len(rejections)} line(s), max_errors={self.max_errors}); "
                                f"line starts: {excerpt(line)[:80]!r}"
                            ) from None
                        continue
                    copy.write_row((*row, staged_from))
                    staged += 1
        if rejections:
            run_id = str(context.get("run_id") or "")
            recorded_at = datetime.now(UTC).replace(tzinfo=None)
            cur.executemany(
                read_sql("catalog/record_load_error.sql"),
                [
                    {
                        "run_id": run_id,
                        "staging_table": self.table,
                        "s3_key": key,
                        "line_number": n,
                        "reason": reason[:1024],
                        "excerpt": text,
                        "recorded_at": recorded_at,
                    }
                    for key, n, reason, text in rejections
                ],
            )
            for key, n, reason, _ in rejections[:20]:
                self.log.warning("rejected %s line %s: %s", self._uri(key), n, reason)
        return staged, len(rejections)

    # ----------------------------------------------------------------------------------------------------------
    def _copy_on_redshift(self, cur: Any, s3: Any, locations: list[str], columns: list[Column]):
        credentials = self._copy_credentials(s3)
        region = self.region or s3.conn_region_name
        incoming = "stage_incoming"
        cur.execute(render(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(ident(incoming), ident(self.table))))
        staged = 0
        data_cols = idents([c.name for c in columns])
        for loc in locations:
            kwargs = dict(
                table_sql=render(ident(incoming)),
                columns_sql=render(data_cols),
                s3_uri=self._uri(loc),
                credentials=credentials,
                region=region,
                json_paths_uri=None if self.json_paths == "auto" else self._uri(self.json_paths),
                epoch_millis=True,
                max_errors=self.max_errors,
            )
            self.log.info("running on Redshift:\n%s", redshift_copy_sql(**kwargs, redacted=True))
            cur.execute(redshift_copy_sql(**kwargs))  # never logged: it may hold credentials
            cur.execute(
                render(
                    sql.SQL("INSERT INTO {} ({}, {}) SELECT {}, %(loc)s FROM {}").format(
                        ident(self.table), data_cols, ident(STAGED_FROM), data_cols, ident(incoming)
                    )
                ),
                {"loc": self._uri(loc)},
            )
            staged += max(cur.rowcount, 0)
            cur.execute(render(sql.SQL("DELETE FROM {}").format(ident(incoming))))
        cur.execute(render(sql.SQL("DROP TABLE {}").format(ident(incoming))))
        return staged, 0  # rejections under MAXERROR are in sys_load_error_detail

    def _copy_credentials(self, s3: Any) -> CopyCredentials:
        from airflow.sdk.log import mask_secret

        role_arn = (s3.conn_config.extra_config or {}).get("role_arn") if s3.conn_config else None
        if role_arn:
            return CopyCredentials(iam_role=role_arn)
        creds = s3.get_credentials()
        for secret in (creds.secret_key, creds.token):
            if secret:
                mask_secret(secret)
        return CopyCredentials(
            access_key_id=creds.access_key, secret_access_key=creds.secret_key, session_token=creds.token
        )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"
