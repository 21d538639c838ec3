"""What the DAGs take from Airflow's settings, written once for every DAG.

Two buckets, never one: the **source** (``sparkify_s3_bucket``) holds the data and belongs to whoever delivers it
— the project only lists and reads it; the **work** bucket (``sparkify_work_bucket``) is the project's own and
holds everything it writes (COPY manifests, reports). Both are Airflow Variables, read when a task is rendered
(never when the DAG is parsed), so the same DAG runs on the local stack and on AWS.
"""

from __future__ import annotations

SOURCE_BUCKET = "{{ var.value.get('sparkify_s3_bucket', 'sparkify') }}"
WORK_BUCKET = "{{ var.value.get('sparkify_work_bucket', 'sparkify-work') }}"
REPORT_PREFIX = "reports/"
