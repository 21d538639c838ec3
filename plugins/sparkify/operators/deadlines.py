"""CheckDeadlinesOperator: alert on the hours that were not published to the analysts in time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import alerts, deadlines, engines
from sparkify.runtime import interval_parameters, utc_now

if TYPE_CHECKING:
    from airflow.sdk import Context


class CheckDeadlinesOperator(BaseOperator):
    """
    Judge the hours of ``watched_dag_id`` whose deadline fell in this run's data interval: each one that no
    published interval covers gets an alert through every channel that is on (:mod:`sparkify.alerts`) naming the
    DAG, the hour, how late it is and why — held back by its checks (which are listed), its run still going or
    failed before the gate, or no run at all. The task succeeds either way: it reports lateness, it is not late.

    :param watched_dag_id: the hourly DAG whose hours are judged (templated).
    :param deadline: how long after an hour's end it must be published.
    :param redshift_conn_id: the warehouse connection, which holds the publication ledger.
    """

    template_fields = ("watched_dag_id",)
    ui_color = "#fde8e8"

    def __init__(
        self, *, watched_dag_id: str, deadline: timedelta, redshift_conn_id: str = "redshift", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.watched_dag_id = watched_dag_id
        self.deadline = deadline
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        window = interval_parameters(context)
        hours = deadlines.hours_due(window["data_interval_start"], window["data_interval_end"], self.deadline)
        span = f"[{window['data_interval_start']}, {window['data_interval_end']})"
        if not hours:
            self.log.info("no hour of %s reached its deadline in %s", self.watched_dag_id, span)
            return {"judged": 0, "late": []}
        started = time.monotonic()
        engine = engines.resolve(self.redshift_conn_id, self.log)
        ti = context["ti"]
        late, first_published = deadlines.judge(
            engine, hours, self.deadline, utc_now(), lambda hour: self._run_state(ti, hour)
        )
        judged = [h for h in hours if first_published is not None and h[0] >= first_published]
        for hour in late:
            alert = deadlines.alert(hour, self.watched_dag_id, self.deadline)
            sent = alerts.send(alert, context)
            self.log.warning("%s (%s); alerted through %s", alert.subject, hour.reason, ", ".join(sent) or "no channel")
        self.log.info(
            "%s: %d hour(s) of %s reached their deadline (%s after the hour), %d judged (the rest precede the first "
            "publication, %s), %d on time, %d late, in %.2f s",
            span,
            len(hours),
            self.watched_dag_id,
            deadlines.hours_minutes(self.deadline),
            len(judged),
            first_published or "none yet",
            len(judged) - len(late),
            len(late),
            time.monotonic() - started,
        )
        return {
            "judged": len(judged),
            "late": [
                {"interval_start": h.start, "late_by_s": int(h.late_by.total_seconds()), "reason": h.reason}
                for h in late
            ],
        }

    def _run_state(self, ti: Any, hour_start: datetime) -> str | None:
        """The state of the watched DAG's run whose logical date is ``hour_start`` (``None``: there is none)."""
        logical_date = hour_start.replace(tzinfo=UTC)
        for state in ("running", "queued", "failed", "success"):
            if ti.get_dr_count(dag_id=self.watched_dag_id, logical_dates=[logical_date], states=[state]):
                return state
        return None
