"""StageToRedshiftOperator: JSON objects in S3 → a warehouse staging table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.sql import chunks, delete_where_in, ident, idents, insert_values, read_sql, render, validate_identifier
from sparkify.staging import (
    STAGED_FROM,
    Column,
    CopyCredentials,
    CsvEncoder,
    EncodedBlock,
    JsonRecordReader,
    line_blocks,
    parse_jsonpaths_file,
    prefetch,
    read_ahead,
    redshift_copy_sql,
)
from sparkify.warehouse import Warehouse, get_connection

if TYPE_CHECKING:
    from airflow.sdk import Context

LAYOUTS = ("lines", "document")
STAGE_INCOMING = "stage_incoming"  # temp table: rows of this run before they replace staged rows by key
STAGE_COPY = "stage_copy"  # temp table: Redshift COPY's landing place (COPY cannot fill staged_from)
ENCODE_THREADS = 2  # blocks encoded to CSV at once (PostgreSQL path)


@dataclass(frozen=True)
class S3Object:
    location: str  # the key or prefix that named it
    key: str
    size: int
    etag: str


def _truthy(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes", "on")


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
    :param block_bytes: PostgreSQL path, ``lines`` layout: how much of an object is parsed and encoded at once
        (a few blocks are in flight, so this bounds memory along with the 1 MB read-ahead chunks).
    :param incremental: stage only objects that are new or changed (by ETag) since the last successful load,
        tracked per key in ``staged_objects`` in the same transaction as the load; an unchanged source lists
        the prefix and reads nothing. Staged records replace staged records with the same ``key_columns``.
        On Redshift, COPY reads exactly those keys through a manifest written under ``manifest_prefix``.
    :param key_columns: the identity of a staged record (required with ``incremental``), e.g. ``("song_id",)``.
    :param full_reload: with ``incremental``: empty the staging table and the tracking, and stage every object
        again. (templated: ``"{{ params.full_reload }}"`` works)
    :param manifest_prefix: where Redshift COPY manifests go, in ``s3_bucket`` (needs write access).
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_key", "json_paths", "full_reload")
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
        block_bytes: int = 2 << 20,
        incremental: bool = False,
        key_columns: Sequence[str] = (),
        full_reload: bool | str = False,
        manifest_prefix: str = "sparkify-manifests/",
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
        self.block_bytes = block_bytes
        self.incremental = incremental
        self.key_columns = tuple(key_columns)
        self.full_reload = full_reload
        self.manifest_prefix = manifest_prefix

    # ----------------------------------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, int]:
        validate_identifier(self.table, "table")
        if self.json_layout not in LAYOUTS:
            raise AirflowFailException(f"json_layout must be one of {LAYOUTS}, got {self.json_layout!r}")
        if self.incremental and not self.key_columns:
            raise AirflowFailException("incremental staging needs key_columns (the identity of a staged record)")
        warehouse = Warehouse.from_conn_id(self.redshift_conn_id)
        get_connection(self.aws_conn_id)  # a missing AWS connection fails now, naming its environment variable
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from botocore.config import Config

        s3 = S3Hook(aws_conn_id=self.aws_conn_id, config=Config(max_pool_connections=self.fetch_workers + 4))
        client = s3.get_conn()
        started = time.monotonic()
        locations = [self.s3_key] if isinstance(self.s3_key, str) else list(self.s3_key)
        listed = [obj for loc in locations for obj in self._objects_at(client, loc)]
        full_reload = _truthy(self.full_reload)
        target = ident(self.table, "table")

        with warehouse.transaction() as cur:
            columns = self._data_columns(cur)
            cur.execute(render(warehouse.lock_table(self.table)))
            replaced = 0
            if self.incremental:
                if full_reload:
                    cur.execute(render(sql.SQL("DELETE FROM {}").format(target)))
                    replaced = max(cur.rowcount, 0)
                    cur.execute(read_sql("catalog/forget_staged_objects.sql"), {"staging_table": self.table})
                    pending = listed
                else:
                    cur.execute(read_sql("catalog/staged_objects.sql"), {"staging_table": self.table})
                    tracked = dict(cur.fetchall())
                    pending = [o for o in listed if tracked.get(o.key) != o.etag]
                destination = STAGE_INCOMING
                cur.execute(render(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(ident(destination), target)))
            else:
                for loc in locations:
                    cur.execute(
                        render(sql.SQL("DELETE FROM {} WHERE {} = %(loc)s").format(target, ident(STAGED_FROM))),
                        {"loc": self._uri(loc)},
                    )
                    replaced += max(cur.rowcount, 0)
                pending, destination = listed, self.table

            staged = rejected = 0
            if pending and warehouse.is_redshift:
                staged, rejected = self._copy_on_redshift(cur, s3, pending, columns, destination, context)
            elif pending:
                staged, rejected = self._stream_into_postgres(cur, client, pending, columns, destination, context)

            if self.incremental:
                replaced += self._replace_by_key(cur, destination)
                self._track(cur, pending, context)

        n_bytes = sum(o.size for o in pending)
        self.log.info(
            "staged %s rows into %s from %s of %s listed objects (%s) in %.1f s; %s lines rejected; "
            "%s previously staged rows replaced%s",
            f"{staged:,}",
            self.table,
            f"{len(pending):,}",
            f"{len(listed):,}",
            _human_bytes(n_bytes),
            time.monotonic() - started,
            f"{rejected:,}",
            f"{replaced:,}",
            (" (full reload)" if full_reload else " (incremental: new or changed objects only)")
            if self.incremental
            else "",
        )
        return {
            "rows_staged": staged,
            "lines_rejected": rejected,
            "objects_listed": len(listed),
            "objects_read": len(pending),
            "bytes_read": n_bytes,
        }

    # ----------------------------------------------------------------------------------------------------------
    def _uri(self, location: str) -> str:
        return f"s3://{self.s3_bucket}/{location}"

    def _objects_at(self, client: Any, location: str) -> list[S3Object]:
        """Every object a location names (a key, or a prefix ending in ``/``); a clear error when there is none."""
        if location.endswith("/"):
            found: list[S3Object] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.s3_bucket, Prefix=location):
                found.extend(S3Object(location, o["Key"], o["Size"], o["ETag"]) for o in page.get("Contents", []))
            if not found:
                raise RuntimeError(f"no objects under {self._uri(location)} — nothing to stage")
            return sorted(found, key=lambda o: o.key)
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
        return [S3Object(location, location, head["ContentLength"], head["ETag"])]

    def _staged_from(self, obj: S3Object) -> str:
        """What a row records as its origin: the object itself when incremental, else the requested location."""
        return self._uri(obj.key if self.incremental else obj.location)

    def _replace_by_key(self, cur: Any, incoming: str) -> int:
        """Move freshly staged rows in, replacing staged rows with the same key (a changed object's old record)."""
        target, temp = ident(self.table, "table"), ident(incoming)
        match = sql.SQL(" AND ").join(
            sql.SQL("{}.{} = {}.{}").format(target, ident(k, "key column"), temp, ident(k, "key column"))
            for k in self.key_columns
        )
        cur.execute(render(sql.SQL("DELETE FROM {} USING {} WHERE {}").format(target, temp, match)))
        replaced = max(cur.rowcount, 0)
        cur.execute(render(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(target, temp)))
        cur.execute(render(sql.SQL("DROP TABLE {}").format(temp)))
        return replaced

    def _track(self, cur: Any, staged: list[S3Object], context: Any) -> None:
        """Record staged objects by key and ETag, in the load's own transaction."""
        if not staged:
            return
        run_id = str(context.get("run_id") or "")
        now = datetime.now(UTC).replace(tzinfo=None)
        for chunk in chunks(staged, 1000):
            cur.execute(
                *delete_where_in("staged_objects", "s3_key", [o.key for o in chunk], {"staging_table": self.table})
            )
            cur.execute(
                *insert_values(
                    "staged_objects",
                    ["staging_table", "s3_key", "etag", "size_bytes", "run_id", "staged_at"],
                    [(self.table, o.key, o.etag, o.size, run_id, now) for o in chunk],
                )
            )

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
    def _stream_into_postgres(
        self, cur: Any, client: Any, pending: list[S3Object], columns: list[Column], destination: str, context: Any
    ) -> tuple[int, int]:
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

        encoder = CsvEncoder(reader)

        def fetch(obj: S3Object) -> Any:
            body = client.get_object(Bucket=self.s3_bucket, Key=obj.key)["Body"]
            if self.json_layout == "document":
                return body.read()
            return body  # streamed by the writer, block by block

        window = self.fetch_workers * (8 if self.json_layout == "document" else 1)
        objects = prefetch(pending, fetch, self.fetch_workers, window)
        if self.json_layout == "lines":
            # Objects stream in blocks of whole lines; blocks encode on a few threads (Arrow's reader and writer
            # release the GIL) while this thread feeds the COPY, in order.
            blocks = (
                [obj, first_line, block]  # a list the encoder empties: a block is held only while it is encoded
                for obj, body in objects
                for first_line, block in line_blocks(read_ahead(body.iter_chunks(1 << 20)), self.block_bytes)
            )

            def encode(job: list) -> EncodedBlock:
                obj, first_line, block = job
                job.clear()
                return encoder.encode_lines(obj.key, block, first_line, self._staged_from(obj))

            encoded = prefetch(blocks, encode, ENCODE_THREADS, ENCODE_THREADS + 1)
        else:  # one record per object
            batches = chunks(((o.key, 1, payload, self._staged_from(o)) for o, payload in objects), 1000)
            encoded = prefetch(batches, encoder.encode_records, ENCODE_THREADS, ENCODE_THREADS + 1)

        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            ident(destination), idents([c.name for c in columns] + [STAGED_FROM])
        )
        staged = fast_blocks = blocks_seen = 0
        rejections: list[tuple[str, int, str, str]] = []
        with cur.copy(render(copy_sql)) as copy:
            for _, block in encoded:
                rejections.extend(block.rejections)
                if len(rejections) > self.max_errors:
                    key, line_number, reason, text = rejections[self.max_errors]
                    raise AirflowFailException(
                        f"{self._uri(key)} line {line_number}: {reason} "
                        f"(rejected {self.max_errors + 1} line(s), max_errors={self.max_errors}); "
                        f"line starts: {text[:80]!r}"
                    )
                if block.csv:
                    copy.write(block.csv)
                staged += block.rows
                fast_blocks += block.fast
                blocks_seen += 1
        if self.json_layout == "lines":
            self.log.info(
                "encoded %s of %s blocks with Arrow's JSON reader, the rest line by line", fast_blocks, blocks_seen
            )
        if rejections:
            self._record_rejections(cur, rejections, context)
        return staged, len(rejections)

    def _record_rejections(self, cur: Any, rejections: list[tuple[str, int, str, str]], context: Any) -> None:
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

    # ----------------------------------------------------------------------------------------------------------
    def _copy_on_redshift(
        self, cur: Any, s3: Any, pending: list[S3Object], columns: list[Column], destination: str, context: Any
    ) -> tuple[int, int]:
        """Redshift COPY: per requested location, or — incremental — exactly the pending keys via a manifest."""
        if self.incremental:
            manifest_key = self._write_manifest(s3, pending, context)
            units = [(self._uri(manifest_key), True)]
        else:
            units = [(self._uri(loc), False) for loc in dict.fromkeys(o.location for o in pending)]
        credentials = self._copy_credentials(s3)
        region = self.region or s3.conn_region_name
        landing = ident(STAGE_COPY)
        cur.execute(render(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(landing, ident(self.table))))
        data_cols = idents([c.name for c in columns])
        staged = 0
        for source_uri, manifest in units:
            kwargs = dict(
                table_sql=render(landing),
                columns_sql=render(data_cols),
                s3_uri=source_uri,
                credentials=credentials,
                region=region,
                json_paths_uri=None if self.json_paths == "auto" else self._uri(self.json_paths),
                epoch_millis=True,
                max_errors=self.max_errors,
                manifest=manifest,
            )
            self.log.info("running on Redshift:\n%s", redshift_copy_sql(**kwargs, redacted=True))
            cur.execute(redshift_copy_sql(**kwargs))  # never logged: it may hold credentials
            cur.execute(
                render(
                    sql.SQL("INSERT INTO {} ({}, {}) SELECT {}, %(staged_from)s FROM {}").format(
                        ident(destination), data_cols, ident(STAGED_FROM), data_cols, landing
                    )
                ),
                {"staged_from": source_uri},
            )
            staged += max(cur.rowcount, 0)
            cur.execute(render(sql.SQL("DELETE FROM {}").format(landing)))
        cur.execute(render(sql.SQL("DROP TABLE {}").format(landing)))
        return staged, 0  # rows rejected under MAXERROR are in Redshift's sys_load_error_detail

    def _write_manifest(self, s3: Any, pending: list[S3Object], context: Any) -> str:
        """A COPY manifest naming exactly the pending objects, under a run-specific key."""
        import json
        import re

        run = re.sub(r"[^A-Za-z0-9_.-]", "_", str(context.get("run_id") or "manual"))
        key = f"{self.manifest_prefix.rstrip('/')}/{self.dag_id}/{run}/{self.task_id}.manifest"
        entries = [{"url": self._uri(o.key), "mandatory": True} for o in pending]
        s3.load_string(json.dumps({"entries": entries}), key=key, bucket_name=self.s3_bucket, replace=True)
        self.log.info("wrote a COPY manifest of %s objects to %s", f"{len(pending):,}", self._uri(key))
        return key

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
