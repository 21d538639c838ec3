"""Buckets through the amazon provider's ``S3Hook``: the source (read only) and the project's work bucket.

The source bucket belongs to whoever delivers the data (the course's ``udacity-dend``, or the user's own): the
project only lists and reads it. Everything the project writes — COPY manifests, reports — goes to its work bucket.

A *location* is what a staging task is asked for: one object key, or a prefix ending in ``/`` (every object under
it). :meth:`S3Source.objects_at` turns it into :class:`S3Object` s — key, size and ETag, the identity by which
``staged_objects`` tracks what was staged — or fails with the S3 URI when there is nothing there.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

MAX_POOL_CONNECTIONS = 32  # objects are fetched on up to 16 threads, plus the listing and the writer


# Leaf elements of a ListObjectsV2 response that staging never reads: botocore parses every field of every key,
# and turning each LastModified into a datetime is most of an idle listing's CPU. Removed from the XML before
# botocore parses it (its documented ``before-parse`` event); Key, Size and ETag are what an S3Object is made of.
UNREAD_LISTING_FIELDS = re.compile(rb"<(LastModified|StorageClass|ChecksumAlgorithm|ChecksumType)>[^<]*</\1>")
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark: not data at the start of an object, an error anywhere else


def drop_unread_listing_fields(response_dict: dict, **_: Any) -> None:
    """botocore ``before-parse`` handler: strip :data:`UNREAD_LISTING_FIELDS` from a listing's XML body."""
    body = response_dict.get("body")
    if isinstance(body, bytes):
        response_dict["body"] = UNREAD_LISTING_FIELDS.sub(b"", body)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a listing builds its objects (they form no cycles).

    Parsing a catalogue's listing allocates tens of thousands of dicts and lists, enough to set off repeated
    collections of the whole heap of an Airflow task process.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class AccessDeniedError(AirflowFailException):
    """AWS refused a call for lack of permission: a policy must change, so retrying will not help."""


DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "403", "Forbidden", "UnauthorizedOperation"})


def caller_arn(hook: Any) -> str:
    """Who the hook's credentials are (``sts:GetCallerIdentity`` needs no permission), for error messages."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    try:
        sts = AwsBaseHook(aws_conn_id=hook.aws_conn_id, client_type="sts", region_name=hook.conn_region_name)
        return sts.get_conn().get_caller_identity()["Arn"]
    except Exception as exc:  # the message about the denial matters more than this detail
        return f"<unknown principal: {type(exc).__name__}: {exc}>"


@contextlib.contextmanager
def permission_needed(hook: Any, action: str, resource: str) -> Iterator[None]:
    """Turn AWS's refusal of ``action`` on ``resource`` into :class:`AccessDeniedError` naming the principal."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in DENIED_CODES:
            raise
        raise AccessDeniedError(
            f"access denied: {caller_arn(hook)} may not {action} on {resource} "
            f"({exc.response['Error'].get('Message') or exc.response['Error'].get('Code')}); grant it in the "
            "principal's policy (infra/aws/sparkify-warehouse.yaml) — not retried"
        ) from None


class MissingInputError(RuntimeError):
    """A location names no object: the source has not delivered it (yet). Retrying may help."""


class SourceReadError(RuntimeError):
    """Reading an object failed midway (connection reset, incomplete read): retrying may help."""


def _named(exc: Exception, uri: str) -> Exception:
    return exc if isinstance(exc, SourceReadError) else SourceReadError(f"reading {uri} failed: {exc!r}")


class ObjectBody:
    """An object's bytes, with the byte-order mark at its start removed and any read error naming the object."""

    def __init__(self, body: Any, uri: str) -> None:
        self.body, self.uri = body, uri

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        try:
            head: bytes | None = b""  # the object's first bytes, until there are enough to tell a BOM
            for chunk in self.body.iter_chunks(size):
                if head is not None:
                    head += chunk
                    if len(head) < len(BOM):
                        continue
                    chunk, head = head.removeprefix(BOM), None
                if chunk:
                    yield chunk
            if head:
                yield head  # an object shorter than a BOM
        except Exception as exc:
            raise _named(exc, self.uri) from exc

    def read(self) -> bytes:
        try:
            return self.body.read().removeprefix(BOM)
        except Exception as exc:
            raise _named(exc, self.uri) from exc


@dataclass(frozen=True)
class S3Object:
    location: str  # the key or prefix that named it
    key: str
    size: int
    etag: str


class S3Source:
    """One bucket of one AWS connection: listing, streaming reads, and small writes (to the work bucket)."""

    def __init__(self, aws_conn_id: str, bucket: str, content_type: str | None = None) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from botocore.config import Config

        self.bucket = bucket
        self.hook = S3Hook(
            aws_conn_id=aws_conn_id,
            config=Config(max_pool_connections=MAX_POOL_CONNECTIONS),
            extra_args={"ContentType": content_type} if content_type else None,
        )
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The hook's boto3 client (created once: it is thread-safe and pools connections)."""
        if self._client is None:
            self._client = self.hook.get_conn()
            self._client.meta.events.register("before-parse.s3.ListObjectsV2", drop_unread_listing_fields)
        return self._client

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def arn(self, key: str | None = None) -> str:
        return f"arn:aws:s3:::{self.bucket}" + (f"/{key}" if key is not None else "")

    def region(self) -> str:
        """The bucket's region (S3 answers ``None`` for us-east-1)."""
        with permission_needed(self.hook, "s3:GetBucketLocation", self.arn()):
            location = self.client.get_bucket_location(Bucket=self.bucket).get("LocationConstraint")
        return location or "us-east-1"

    def objects_at(self, location: str) -> list[S3Object]:
        """Every object a location names, in key order; :class:`MissingInputError` when there is none."""
        _ = self.client  # the hook's one client, with the listing handler registered
        if location.endswith("/"):
            with gc_paused(), permission_needed(self.hook, "s3:ListBucket", self.arn()):
                found = [
                    S3Object(location, o["Key"], o["Size"], o["ETag"])
                    for o in self.hook.iter_file_metadata(prefix=location, bucket_name=self.bucket)
                ]
            if not found:
                raise MissingInputError(f"no objects under {self.uri(location)} — nothing to stage")
            return sorted(found, key=lambda o: o.key)
        with permission_needed(self.hook, "s3:GetObject", self.arn(location)):
            head = self.hook.head_object(key=location, bucket_name=self.bucket)
        if head is None:
            raise MissingInputError(
                f"missing input: no object at {self.uri(location)}; the source has not delivered it yet, "
                "or the key template does not match the bucket layout"
            )
        return [S3Object(location, location, head["ContentLength"], head["ETag"])]

    def open(self, key: str) -> ObjectBody:
        """A streaming body (``iter_chunks``/``read``) of one object; a broken stream names the object."""
        try:
            with permission_needed(self.hook, "s3:GetObject", self.arn(key)):
                return ObjectBody(self.client.get_object(Bucket=self.bucket, Key=key)["Body"], self.uri(key))
        except AccessDeniedError:
            raise
        except Exception as exc:
            raise _named(exc, self.uri(key)) from exc

    def read(self, key: str) -> bytes:
        return self.open(key).read()

    def read_range(self, key: str, byte_range: str) -> bytes:
        """Part of one object, by HTTP Range (``bytes=0-1023``: the first KiB; ``bytes=-1024``: the last)."""
        try:
            with permission_needed(self.hook, "s3:GetObject", self.arn(key)):
                body = self.client.get_object(Bucket=self.bucket, Key=key, Range=byte_range)["Body"]
            return body.read()
        except AccessDeniedError:
            raise
        except Exception as exc:
            raise _named(exc, self.uri(key)) from exc

    def write_text(self, key: str, text: str) -> None:
        """Write one object (the work bucket's: manifests, reports); a refusal names the principal."""
        with permission_needed(self.hook, "s3:PutObject", self.arn(key)):
            self.hook.load_string(text, key=key, bucket_name=self.bucket, replace=True)
