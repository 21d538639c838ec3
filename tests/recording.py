"""Test doubles for the warehouse side of unit tests: a cursor that records SQL, and an in-memory S3 source.

The engines' SQL is what a unit test asserts (and parses in the engine's dialect); no database is needed. The
integration tests run the same code against the real local stack instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any


class RecordingCursor:
    """Records every statement and its parameters; answers queries from ``results`` (marker in SQL → rows)."""

    def __init__(self, results: dict[str, list[tuple]] | None = None, rowcount: int = 7) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.results = results or {}
        self.rowcount = rowcount
        self.copied = bytearray()
        self.description: list[tuple] = []
        self._rows: list[tuple] = []

    @property
    def sql(self) -> list[str]:
        return [s for s, _ in self.statements]

    def execute(self, statement: str, params: Any = None) -> None:
        self.statements.append((statement, params))
        self._rows = next((rows for marker, rows in self.results.items() if marker in statement), [])

    def executemany(self, statement: str, seq: Any) -> None:
        for params in seq:
            self.statements.append((statement, params))

    def fetchall(self) -> list[tuple]:
        return list(self._rows)

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    @contextlib.contextmanager
    def copy(self, statement: str) -> Iterator[RecordingCursor]:
        self.statements.append((statement, None))
        yield self

    def write(self, data: Any) -> None:
        self.copied += bytes(data)


class FakeBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        for i in range(0, len(self.data), size):
            yield self.data[i : i + size]

    def read(self) -> bytes:
        return self.data


class FakeSource:
    """An in-memory bucket with the interface of :class:`sparkify.ingest.s3.S3Source`."""

    def __init__(
        self, objects: dict[str, bytes], bucket: str = "bucket", role_arn: str | None = None, region: str = "us-west-2"
    ) -> None:
        self.bucket = bucket
        self.objects = objects
        self._region = region
        self.written: dict[str, str] = {}
        self.reads: list[str] = []  # keys read whole, and (key, range) read in part
        self.ranges: list[tuple[str, str]] = []
        self.hook = SimpleNamespace(
            conn_config=SimpleNamespace(extra_config={"role_arn": role_arn} if role_arn else {}),
            conn_region_name="us-west-2",
            get_credentials=lambda: SimpleNamespace(access_key="AKIDEXAMPLE", secret_key="s3cr3t", token=None),
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def region(self) -> str:
        return self._region

    def open(self, key: str) -> FakeBody:
        return FakeBody(self.objects[key])

    def read(self, key: str) -> bytes:
        self.reads.append(key)
        return self.objects[key]

    def read_range(self, key: str, byte_range: str) -> bytes:
        """``bytes=A-B`` (inclusive) or ``bytes=-N`` (the last N), as S3 serves them."""
        self.ranges.append((key, byte_range))
        data, spec = self.objects[key], byte_range.removeprefix("bytes=")
        if spec.startswith("-"):
            return data[-int(spec[1:]) :]
        start, end = spec.split("-")
        return data[int(start) : int(end) + 1]

    def write_text(self, key: str, text: str) -> None:
        self.written[key] = text


class FakeTransactionHook:
    """A hook whose connection hands out one recording cursor (for engines built around a test cursor)."""

    def __init__(self, cursor: RecordingCursor, conn: Any = None) -> None:
        self.cursor = cursor
        self.commits = self.rollbacks = 0
        self.conn = conn or SimpleNamespace(host="", extra_dejson={})

    def get_connection(self, conn_id: str) -> Any:
        return self.conn

    def get_conn(self) -> Any:
        hook = self

        class Conn:
            def cursor(self) -> RecordingCursor:
                return hook.cursor

            def commit(self) -> None:
                hook.commits += 1

            def rollback(self) -> None:
                hook.rollbacks += 1

            def close(self) -> None:
                pass

        return Conn()
