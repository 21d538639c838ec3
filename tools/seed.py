"""Upload a data folder in the course layout into the emulated S3 bucket.

    python -m tools.seed --data ../shared/data/sparkify      # a folder in the course layout
    python -m tools.seed --generate [--seed 42]             # the project's generated Sparkify-shaped data

Keys keep the course bucket's layout: ``song_data/…``, ``log_data/YYYY/MM/YYYY-MM-DD-events.json`` and
``log_json_path.json``. The bucket is emptied first, so it holds exactly the folder (``--keep`` to add instead).
Uses the ``aws_default`` connection from the environment (``eval "$(make -s env)"`` sets it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.stack import LOCAL, env

LAYOUT = ("song_data", "log_data", "log_json_path.json")


def s3_client():
    for key, value in env().items():
        os.environ.setdefault(key, value)
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


def seed(folder: Path, bucket: str, keep: bool = False) -> int:
    client = s3_client()
    started = time.monotonic()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    elif not keep:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    files = data_files(folder)

    def put(item: tuple[Path, str]) -> None:
        path, key = item
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, files))
    size = sum(p.stat().st_size for p, _ in files)
    print(
        f"seeded s3://{bucket}: {len(files):,} objects ({size / 1e6:.1f} MB) from {folder} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return len(files)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="a folder in the course layout")
    src.add_argument("--generate", action="store_true", help="generate Sparkify-shaped data (tools.datagen)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--bucket", default=env()["SPARKIFY_BUCKET"])
    p.add_argument("--keep", action="store_true", help="do not empty the bucket first")
    a = p.parse_args()
    folder = a.data
    if a.generate:
        from tools.datagen import generate

        folder = LOCAL / "data" / f"generated-seed{a.seed}"
        if not (folder / "log_json_path.json").exists():
            stats = generate(folder, seed=a.seed)
            print(f"generated {stats['songs']:,} songs and {stats['events']:,} events in {folder}")
    seed(folder.resolve(), a.bucket, keep=a.keep)


if __name__ == "__main__":
    main()
