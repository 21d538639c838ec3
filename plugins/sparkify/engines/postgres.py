"""PostgreSQL, the embedded default: staging streams S3 objects through a JSON parser into ``COPY … FROM STDIN``.

Objects are fetched on a few threads ahead of the writer. In the ``lines`` layout each object streams in blocks of
whole lines (no object is held whole in memory); blocks are mapped and coerced the way Redshift's COPY does
(:mod:`sparkify.ingest.records`) into Arrow tables on a few threads (:mod:`sparkify.ingest.arrow_encoder`) while
this thread encodes them for the COPY — binary where the columns allow (:mod:`sparkify.ingest.copy_formats`) —
and feeds it, in order. Bad lines become :class:`~sparkify.ingest.records.Rejection` s; one
more than ``max_errors`` fails the task naming the object and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from sparkify.engines.base import Engine, StageRequest, StageResult
from sparkify.ingest.arrow_encoder import ArrowEncoder, EncodedBlock
from sparkify.ingest.copy_formats import copy_format
from sparkify.ingest.jsonpaths import parse_jsonpaths_file
from sparkify.ingest.pumps import line_blocks, prefetch, read_ahead
from sparkify.ingest.records import JsonRecordReader, Rejection
from sparkify.ingest.staging_ledger import STAGED_FROM
from sparkify.sql import chunks, ident, idents, render

ENCODE_THREADS = 2  # blocks parsed into Arrow tables at once (Arrow releases the GIL)
READ_CHUNK = 1 << 20  # bytes per network read


class PostgresEngine(Engine):
    """PostgreSQL through the postgres provider's ``PostgresHook``.

    Stage options (``engine_options={"postgres": {...}}``):

    * ``fetch_workers`` — how many objects download at once (default 16);
    * ``block_bytes`` — ``lines`` layout: how much of an object is parsed and encoded at once (default 2 MiB;
      a few blocks are in flight, so this bounds memory along with the 1 MiB read-ahead chunks).
    """

    name = "postgres"
    stage_options: ClassVar[dict[str, Any]] = {"fetch_workers": 16, "block_bytes": 2 << 20}

    @classmethod
    def claims(cls, conn: Any) -> bool:
        return conn.conn_type in ("postgres", "postgresql")

    @classmethod
    def make_hook(cls, conn_id: str) -> Any:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=conn_id)

    def ddl_lock(self) -> str:
        return "SELECT PG_ADVISORY_XACT_LOCK(HASHTEXT('sparkify-ddl'))"

    def end_in_error(self, conn: Any) -> None:
        """Cancel a statement still running in the server before giving the connection up.

        A task's time limit interrupts psycopg while it waits for the server (on a lock, or a long ``COPY``); the
        statement would otherwise run on — holding its locks — until it finished or waited no more. Cancelled, it
        rolls back and frees them at once.
        """
        from psycopg.pq import TransactionStatus

        if conn.pgconn.transaction_status != TransactionStatus.ACTIVE:
            super().end_in_error(conn)
            return
        self.log.warning("cancelling the statement still running in the server, after an interruption")
        try:
            conn.cancel_safe(timeout=5)
        except Exception as cancel_error:  # closing the connection below still ends the transaction
            self.log.warning("cancel failed (%s): %s", type(cancel_error).__name__, cancel_error)
        conn.close()

    # ----------------------------------------------------------------------------------------------------------
    def stage(self, cur: Any, request: StageRequest) -> StageResult:
        encoder = self._encoder(request)
        encoded = self._encoded_blocks(request, encoder)
        fmt = copy_format(request.columns, encoder.schema)
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
            ident(request.destination),
            idents([c.name for c in request.columns] + [STAGED_FROM]),
            sql.SQL(fmt.option),
        )
        staged = fast_blocks = blocks_seen = 0
        rejections: list[Rejection] = []
        with cur.copy(render(copy_sql)) as copy:
            copy.write(fmt.begin())
            for _, block in encoded:
                for unit, shape in block.shapes.items():
                    request.shapes.add(unit, shape)
                rejections.extend(block.rejections)
                if len(rejections) > request.max_errors:
                    raise request.budget_exceeded(rejections[request.max_errors])
                if block.table is not None:
                    copy.write(fmt.encode(block.table))
                staged += block.rows
                fast_blocks += block.fast
                blocks_seen += 1
            copy.write(fmt.end())
        if request.json_layout == "lines":
            self.log.info(
                "parsed %s of %s blocks with Arrow's JSON reader, the rest line by line; COPY format %s",
                fast_blocks,
                blocks_seen,
                fmt.option,
            )
        return StageResult(staged, rejections)

    @staticmethod
    def _encoder(request: StageRequest) -> ArrowEncoder:
        """An encoder for the staging columns, mapped by the request's JSONPaths file (or by name)."""
        source, json_paths = request.source, None
        if request.json_paths is not None:
            try:
                json_paths = parse_jsonpaths_file(source.read(request.json_paths))
            except ValueError as exc:
                raise AirflowFailException(f"{source.uri(request.json_paths)}: {exc}") from None
        try:
            contract = request.shapes.contract if request.shapes else None
            return ArrowEncoder(JsonRecordReader(request.columns, json_paths), contract)
        except ValueError as exc:
            raise AirflowFailException(f"{request.staging_table}: {exc}") from None

    @staticmethod
    def _encoded_blocks(request: StageRequest, encoder: ArrowEncoder) -> Iterator[tuple[Any, EncodedBlock]]:
        """The objects downloaded, split and encoded on threads, in order, with bounded memory."""
        source, workers = request.source, int(request.options["fetch_workers"])
        if request.json_layout == "lines":
            objects = prefetch(request.objects, lambda o: source.open(o.key), workers, workers)
            # A list the encoder empties: a block is held only while it is encoded.
            blocks = (
                [obj, first_line, block]
                for obj, body in objects
                for first_line, block in line_blocks(
                    read_ahead(body.iter_chunks(READ_CHUNK)), int(request.options["block_bytes"])
                )
            )

            def encode(job: list) -> EncodedBlock:
                obj, first_line, block = job
                job.clear()
                return encoder.encode_lines(obj.key, block, first_line, request.staged_from(obj))

            return prefetch(blocks, encode, ENCODE_THREADS, ENCODE_THREADS + 1)
        # one record per object
        objects = prefetch(request.objects, lambda o: source.read(o.key), workers, workers * 8)
        batches = chunks(((o.key, 1, body, request.staged_from(o)) for o, body in objects), 1000)
        unit_of = {o.key: request.shape_unit(o) for o in request.objects}.__getitem__
        return prefetch(
            batches, lambda batch: encoder.encode_documents(batch, unit_of), ENCODE_THREADS, ENCODE_THREADS + 1
        )
