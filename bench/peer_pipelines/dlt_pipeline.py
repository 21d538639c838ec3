"""dlt's pipeline for the benchmark (runs in the peers' virtualenv): S3 JSON lines → PostgreSQL, its fast path.

dlt's docs recommend Arrow tables for speed — they skip its row-by-row normalisation — and the ``parquet`` loader
file format, which its PostgreSQL destination loads through Arrow's ADBC driver. The filesystem source lists the
objects; a transformer reads each with ``pyarrow.json`` and yields the table. Usage:
``python dlt_pipeline.py BUCKET PREFIX DSN DATASET TABLE``; credentials and endpoint from ``AWS_*``. Prints its
own peak RSS in KiB (VmHWM) last.
"""

import os
import sys
from pathlib import Path

import dlt
import pyarrow.json as pj
from dlt.sources.filesystem import filesystem

bucket, prefix, dsn, dataset, table = sys.argv[1:6]


@dlt.transformer(name=table)
def arrow_tables(items):
    for item in items:
        with item.open() as f:
            yield pj.read_json(f)


files = filesystem(
    bucket_url=f"s3://{bucket}/{prefix}",
    file_glob="**/*.json",
    credentials={
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "endpoint_url": os.environ["AWS_ENDPOINT_URL"],
        "region_name": os.environ.get("AWS_DEFAULT_REGION", "us-west-2"),
    },
)
pipeline = dlt.pipeline(
    pipeline_name=f"bench_{table}",
    destination=dlt.destinations.postgres(dsn),
    dataset_name=dataset,
    pipelines_dir=os.environ["DLT_PIPELINES_DIR"],
)
pipeline.run(files | arrow_tables(), write_disposition="replace", loader_file_format="parquet")
print(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:")))
