"""PublishIntervalOperator: the gate between the loads and the analysts (the publication ledger)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from sparkify import assets, engines, publication
from sparkify.runtime import interval_parameters, run_id

if TYPE_CHECKING:
    from airflow.sdk import Context


class PublishIntervalOperator(BaseOperator):
    """
    Publish the run's interval to the analysts when its blocking checks passed; otherwise hold it back.

    Runs after the quality task whatever its outcome (``trigger_rule="all_done"``): it reads that task's results
    (its XCom ``checks``, pushed pass or fail) and records the verdict in ``publications``
    (:mod:`sparkify.publication`). Held back, the interval stays out of the analytics tables and the report until a
    re-run passes; the run is red through the quality task, which failed and alerted naming the checks (the DAG's
    ``end`` waits for both). Published, it emits the ``publications`` asset's event — what ``sparkify_analytics``
    is scheduled on — only when something changed for the analysts: the interval was not published before, or a
    load of this run changed rows.

    :param checks_task_id: the quality task whose results decide.
    :param load_task_ids: the tasks whose row counts say whether a re-run changed anything.
    :param redshift_conn_id: the warehouse connection (it names the warehouse, whichever engine serves it).
    """

    ui_color = "#fff3e0"

    def __init__(
        self,
        *,
        checks_task_id: str,
        load_task_ids: Sequence[str],
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.checks_task_id = checks_task_id
        self.load_task_ids = tuple(load_task_ids)
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        results = ti.xcom_pull(task_ids=self.checks_task_id, key="checks")
        if not results:
            raise AirflowFailException(
                f"{self.checks_task_id} did not run for this interval (an upstream task failed): nothing is published"
            )
        started = time.monotonic()
        engine = engines.resolve(self.redshift_conn_id, self.log)
        interval = interval_parameters(context)
        verdict = publication.record_verdict(engine, interval, results, self.dag_id, run_id(context))
        span = f"[{interval['data_interval_start']}, {interval['data_interval_end']})"
        if verdict.failed:  # the quality task failed the run and alerted, naming the checks; this records it
            self.log.warning(
                "%s held back from the analysts: %s",
                span,
                "; ".join(f"{f['check']} (observed {f['observed']}, expected {f['expected']})" for f in verdict.failed),
            )
            return {**interval, "status": verdict.status, "previous": verdict.previous, "failed": verdict.failed}
        loads = [counts for counts in ti.xcom_pull(task_ids=list(self.load_task_ids)) or [] if counts]
        changed = sum(
            c.get("inserted", 0) + c.get("updated", 0) + c.get("deleted", 0) + c.get("removed", 0) for c in loads
        )
        self.log.info(
            "%s published in %.2f s (before: %s); %s warning(s); the loads changed %s rows",
            span,
            time.monotonic() - started,
            verdict.previous or "never checked",
            len(verdict.warned),
            f"{changed:,}",
        )
        news = changed + (1 if verdict.newly_published else 0)
        summary = {
            **interval,
            "status": verdict.status,
            "previous": verdict.previous,
            "rows_changed": changed,
            "warnings": len(verdict.warned),
        }
        assets.record_change(context, self.outlets, publication.TABLE, news, summary, self.log)
        return summary
