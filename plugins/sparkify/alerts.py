"""Alerts by mail when a task fails for good — a quality check included — through Airflow's notifier mechanism.

Off until the connection ``smtp_alerts`` exists (an SMTP connection; its extra names the recipients, ``"to"``,
and the sender, ``"from_email"``). The message says which DAG, interval and task failed, why — for the
quality task, each failed check with what was observed and what was expected — and links to the task's log.
Sending goes through the smtp provider's ``SmtpNotifier`` (and so its ``SmtpHook``). A failure to send is
logged, never raised: the task's own failure is what the run reports.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from airflow.sdk import BaseNotifier

from sparkify.connections import ConnectionNotConfiguredError, get_connection
from sparkify.quality import QualityChecksFailedError

LOG = logging.getLogger(__name__)
CONN_ID = "smtp_alerts"


class FailureAlert(BaseNotifier):
    """``on_failure_callback`` that mails what failed, when ``smtp_alerts`` is defined (a no-op otherwise).

    :param conn_id: the SMTP connection; its extra holds ``to`` (one address or a list) and ``from_email``.
    """

    template_fields = ()

    def __init__(self, conn_id: str = CONN_ID) -> None:
        super().__init__()
        self.conn_id = conn_id

    def notify(self, context: Any) -> None:
        try:
            conn = get_connection(self.conn_id)
        except ConnectionNotConfiguredError:
            LOG.info("alerts are off: no %r connection", self.conn_id)
            return
        to = conn.extra_dejson.get("to")
        if not to:
            LOG.warning('alert not sent: connection %r has no "to" in its extra', self.conn_id)
            return
        subject, body = compose(context)
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        try:
            SmtpNotifier(
                to=to,
                from_email=conn.extra_dejson.get("from_email"),
                subject=subject,
                html_content=body,
                smtp_conn_id=self.conn_id,
            ).notify(context)
        except Exception as exc:  # the task failed already; a mail server problem must not hide that
            LOG.warning("alert not sent through %r: %s: %s", self.conn_id, type(exc).__name__, exc)
            return
        LOG.info("alert sent to %s: %s", to, subject)


def compose(context: Any) -> tuple[str, str]:
    """The subject and HTML body of a failure alert, from the task's context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    interval = f"[{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC" if start and end else "(no data interval)"
    error = context.get("exception")
    failed = error.failed if isinstance(error, QualityChecksFailedError) else []
    what = f"{len(failed)} quality check(s) failed" if failed else "task failed"
    subject = f"[sparkify] {dag_id} {interval}: {task_id} — {what}"
    rows = "".join(
        f"<tr><td>{html.escape(str(r['check']))}</td><td>{html.escape(str(r['observed']))}</td>"
        f"<td>{html.escape(str(r['expected']))}</td></tr>"
        for r in failed
    )
    checks = (
        "<table border='1' cellpadding='4' cellspacing='0'><tr><th>check</th><th>observed</th><th>expected</th></tr>"
        f"{rows}</table>"
        if failed
        else ""
    )
    log_url = getattr(ti, "log_url", None)
    body = (
        f"<p><b>DAG</b> {html.escape(dag_id)}<br><b>interval</b> {interval}<br><b>task</b> {html.escape(task_id)}"
        f" (try {getattr(ti, 'try_number', '?')})<br><b>run</b> {html.escape(str(context.get('run_id', '')))}</p>"
        f"<p><b>error</b> {html.escape(f'{type(error).__name__}: {error}' if error else 'unknown')}</p>{checks}"
        + (f"<p><a href='{html.escape(log_url)}'>the task's log</a> ({html.escape(log_url)})</p>" if log_url else "")
    )
    return subject, body
