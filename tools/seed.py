"""Upload a data folder in the course layout into the emulated S3 bucket.

    python -m tools.seed --data ../shared/data/sparkify      # a folder in the course layout
    python -m tools.seed --generate [--seed 42]             # the project's generated Sparkify-shaped data
    python -m tools.seed --live [--seed 42]                 # add yesterday's, today's and tomorrow's logs (UTC)

Keys keep the course bucket's layout: ``song_data/…``, ``log_data/YYYY/MM/YYYY-MM-DD-events.json`` and
``log_json_path.json``. The bucket is emptied first, so it holds exactly the folder (``--keep`` to add instead).
The project's work bucket (``SPARKIFY_WORK_BUCKET``, where the DAGs write manifests and reports) is created
beside it, as ``make aws-up`` creates one on AWS.
``--live`` (what ``make airflow`` runs) keeps what the bucket holds — seeding the generated data first if it
has none — and adds generated activity logs for yesterday, today and tomorrow, so the scheduler's live hours
and a UI trigger with the form's default date (now) find their input.
Always an S3 emulator, never AWS: the local stack's ``aws_default`` connection unless the environment is a local
target itself (``SPARKIFY_TARGET=local``, as ``make env`` and docker compose's ``compose/local.env`` set), and a
connection without an ``endpoint_url`` (that is, AWS) is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tools.paths import LOCAL
from tools.progress import progress
from tools.stack import WORK_BUCKET, env
from tools.targets import SettingsError, enter_local

LAYOUT = ("song_data", "log_data", "log_json_path.json")


def s3_client():
    if os.environ.get("SPARKIFY_TARGET") != "local":  # a shell set up for AWS, or for nothing: the local stack's
        try:
            enter_local(env())
        except SettingsError as exc:
            sys.exit(f"refused: {exc}")
    endpoint = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"]).get("extra", {}).get("endpoint_url")
    if not endpoint:
        sys.exit(
            "refusing to seed: the aws_default connection has no endpoint_url, so it is AWS — seeding writes "
            "only to an S3 emulator (the local stack's, or docker compose's)"
        )
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    return S3Hook(aws_conn_id="aws_default", config=Config(max_pool_connections=32)).get_conn()


def data_files(folder: Path) -> list[tuple[Path, str]]:
    missing = [name for name in LAYOUT if not (folder / name).exists()]
    if missing:
        sys.exit(f"{folder} is not in the course layout: missing {', '.join(missing)}")
    files = [(folder / "log_json_path.json", "log_json_path.json")]
    for top in ("song_data", "log_data"):
        files += [(p, p.relative_to(folder).as_posix()) for p in sorted((folder / top).rglob("*.json"))]
    return files


def ensure_buckets(client, *names: str) -> set[str]:
    """Create the buckets that do not exist; the names of those that did."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for name in names:
        if name not in existing:
            client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return existing


def seed(folder: Path, bucket: str, keep: bool = False, work_bucket: str | None = WORK_BUCKET) -> int:
    client = s3_client()
    started = time.monotonic()
    existing = ensure_buckets(client, bucket, *([work_bucket] if work_bucket else []))
    if bucket in existing and not keep:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    files = data_files(folder)

    def put(item: tuple[Path, str]) -> None:
        path, key = item
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(max_workers=16) as pool, progress(f"seeding s3://{bucket}", len(files), "objects") as done:
        for _ in pool.map(put, files):
            done()
    size = sum(p.stat().st_size for p, _ in files)
    print(
        f"seeded s3://{bucket}: {len(files):,} objects ({size / 1e6:.1f} MB) from {folder} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return len(files)


def seed_live(bucket: str, today: date, seed_value: int = 42) -> list[str]:
    """Add the live days' activity logs to ``bucket`` (generated data first if it has no data); their keys."""
    from tools.datagen import live_day, log_key

    client = s3_client()
    buckets = ensure_buckets(client, WORK_BUCKET)
    has_data = bucket in buckets and client.list_objects_v2(Bucket=bucket, Prefix="log_json_path.json")["KeyCount"]
    if not has_data:
        seed(generated(seed_value), bucket, keep=True)
    keys = []
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        keys.append(log_key(day))
        client.put_object(Bucket=bucket, Key=keys[-1], Body=live_day(day, seed_value))
    print(f"live days in s3://{bucket}: {', '.join(keys)}")
    return keys


def generated(seed_value: int) -> Path:
    """The generated data of ``seed_value`` (made on first use)."""
    from tools.datagen import generate

    folder = LOCAL / "data" / f"generated-seed{seed_value}"
    if not (folder / "log_json_path.json").exists():
        stats = generate(folder, seed=seed_value)
        print(f"generated {stats['songs']:,} songs and {stats['events']:,} events in {folder}")
    return folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="a folder in the course layout")
    src.add_argument("--generate", action="store_true", help="generate Sparkify-shaped data (tools.datagen)")
    src.add_argument("--live", action="store_true", help="add generated logs for yesterday, today and tomorrow")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--bucket", default=env()["SPARKIFY_BUCKET"])
    p.add_argument("--keep", action="store_true", help="do not empty the bucket first")
    a = p.parse_args()
    # Airflow's info lines (the S3 hook saying where its credentials came from) are not news when seeding from the
    # command line; this process only, so a test that seeds in-process leaves its Airflow subprocesses' logs alone.
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    if a.live:
        seed_live(a.bucket, datetime.now(UTC).date(), a.seed)
        return
    folder = generated(a.seed) if a.generate else a.data
    seed(folder.resolve(), a.bucket, keep=a.keep)


if __name__ == "__main__":
    main()
