"""The analytics team's operators: answer the questions as tables, then publish the report built from them."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import assets, engines
from sparkify.analytics import QUESTIONS, SCHEMA, Question, build_tables, publishing
from sparkify.ingest.s3 import S3Source
from sparkify.lineage import Lineage, LineageMixin, TableUse

if TYPE_CHECKING:
    from airflow.sdk import Context


class BuildAnalyticsTablesOperator(LineageMixin, BaseOperator):
    """
    Rebuild one table per analytics question (``include/sql/analytics/<name>.sql``) in the ``analytics`` schema.

    All tables are replaced in one transaction, so a BI tool reading them sees one consistent set of answers.
    Engine-specific statements (``include/sql/<engine>/analytics/``) replace the shared ones by name.

    :param questions: the questions to answer (default: every one in ``sparkify.analytics.QUESTIONS``).
    :param schema: the schema the tables are written to.
    :param redshift_conn_id: the warehouse connection, whichever engine serves it (the name is the course's
        and the amazon provider's).
    """

    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        questions: Sequence[Question] = QUESTIONS,
        schema: str = SCHEMA,
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.questions = tuple(questions)
        self.schema = schema
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> dict[str, dict[str, float]]:
        engine = engines.resolve(self.redshift_conn_id, self.log)
        self._lineage = Lineage(engine, queries=[engine.read_sql(q.sql_path) for q in self.questions])
        started = time.monotonic()
        built = build_tables(engine, self.questions, self.schema, self.log)
        self._lineage.outputs = [TableUse(name, self.schema, rows=int(c["rows"])) for name, c in built.items()]
        self.log.info("%s analytics tables rebuilt in %.2f s", len(built), time.monotonic() - started)
        for name, counts in built.items():
            assets.record_change(context, self.outlets, name, int(counts["rows"]), counts, self.log, self.schema)
        return built


class PublishReportOperator(LineageMixin, BaseOperator):
    """
    Render the analytics report (one self-contained HTML page) from the analytics tables and publish it.

    The page goes to ``s3://<s3_bucket>/<s3_key>`` (content type ``text/html``), to ``<latest_key>`` in the
    same bucket when given, and to ``local_path``. It names the ETL runs whose asset events triggered this run.

    :param s3_bucket: the bucket the report is written to — the project's work bucket, not the source (templated).
    :param s3_key: its key, e.g. ``reports/sparkify-report-<run>.html`` (templated).
    :param latest_key: a second key always holding the newest report (templated; optional).
    :param local_path: a local file for the page (templated); default ``$AIRFLOW_HOME/reports/sparkify-report.html``.
    :param schema: the schema holding the analytics tables.
    :param aws_conn_id: the AWS connection for S3.
    :param redshift_conn_id: the warehouse connection, whichever engine serves it (the name is the course's
        and the amazon provider's).
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_key", "latest_key", "local_path")
    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_key: str,
        latest_key: str | None = None,
        local_path: str | None = None,
        schema: str = SCHEMA,
        aws_conn_id: str = "aws_default",
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.latest_key = latest_key
        self.local_path = local_path
        self.schema = schema
        self.aws_conn_id = aws_conn_id
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        engine = engines.resolve(self.redshift_conn_id, self.log)
        keys = [self.s3_key, *([self.latest_key] if self.latest_key else [])]
        self._lineage = Lineage(
            engine,
            inputs=[TableUse(q.name, self.schema) for q in QUESTIONS],
            s3_outputs=[(self.s3_bucket, k) for k in keys],
        )
        started = time.monotonic()
        runs = source_runs(context)
        built = publishing.build_report(engine, self.schema, f"{self.dag_id} run {context['run_id']}", runs)
        bucket = S3Source(self.aws_conn_id, self.s3_bucket, content_type="text/html; charset=utf-8")
        default = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "reports" / "sparkify-report.html"
        local = publishing.publish(built.html, bucket, keys, Path(self.local_path) if self.local_path else default)
        k, coverage = built.kpis, built.coverage
        self.log.info(
            "report (%.1f MB) for %s plays from %s to %s, triggered by %s, written to %s and %s in %.2f s; "
            "paid share %.1f%%, resolved %.1f%%, top song %r with %s plays",
            len(built.html) / 1e6,
            f"{k['plays']:,}",
            coverage["first_play"],
            coverage["last_play"],
            ", ".join(runs) or "no ETL run",
            ", ".join(f"s3://{self.s3_bucket}/{key}" for key in keys),
            local,
            time.monotonic() - started,
            k["paid_share_pct"],
            k["resolved_pct"],
            k["top_song_title"],
            f"{k['top_song_plays']:,}",
        )
        return {"s3_keys": keys, "local_path": str(local), "source_runs": runs, "bytes": len(built.html)}


def source_runs(context: Any) -> list[str]:
    """``dag_id/run_id`` of every ETL run whose asset events this run consumed, oldest first, once each."""
    events = context.get("triggering_asset_events") or {}
    found: dict[str, Any] = {}
    for asset_events in events.values():
        for event in asset_events:
            if event.source_dag_id and event.source_run_id:
                key = f"{event.source_dag_id}/{event.source_run_id}"
                found[key] = min(found.get(key, event.timestamp), event.timestamp)
    return sorted(found, key=lambda k: found[k])
