"""Alerts when a task fails for good — a quality check included — by mail and to Slack.

Each channel is off until its connection exists, and one alert goes to every channel that is on:

* ``smtp_alerts`` — an SMTP connection whose extra names the recipients (``"to"``) and the sender
  (``"from_email"``); sent through the smtp provider's ``SmtpNotifier``;
* ``slack_alerts`` — a Slack Incoming Webhook connection (``slackwebhook``; the webhook's token or URL as its
  password); sent through the slack provider's ``SlackWebhookNotifier``.

Every channel carries the same content (:class:`Alert`): which DAG and interval, which task failed, why — for the
quality task each failed check with what was observed and what was expected — and a link to the task's log; as
HTML in a mail, as Block Kit in Slack. A channel that fails to send is logged, never
raised: the task's own failure is what the run reports.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow.sdk import BaseNotifier

from sparkify.connections import ConnectionNotConfiguredError, get_connection
from sparkify.quality import QualityChecksFailedError

LOG = logging.getLogger(__name__)
CONN_ID = "smtp_alerts"
SLACK_CONN_ID = "slack_alerts"


@dataclass(frozen=True)
class Alert:
    """What an alert says, whatever carries it."""

    subject: str
    facts: Sequence[tuple[str, str]]  # (label, value), in order: DAG, interval, task, run, ...
    error: str | None = None
    failed_checks: Sequence[dict[str, Any]] = ()  # {"check", "observed", "expected"}
    link: tuple[str, str] | None = None  # (what it opens, URL)

    def html(self) -> str:
        """The mail's body."""
        facts = "<br>".join(f"<b>{html.escape(k)}</b> {html.escape(v)}" for k, v in self.facts)
        parts = [f"<p>{facts}</p>"]
        if self.error:
            parts.append(f"<p><b>error</b> {html.escape(self.error)}</p>")
        if self.failed_checks:
            rows = "".join(
                f"<tr><td>{html.escape(str(r['check']))}</td><td>{html.escape(str(r['observed']))}</td>"
                f"<td>{html.escape(str(r['expected']))}</td></tr>"
                for r in self.failed_checks
            )
            parts.append(
                "<table border='1' cellpadding='4' cellspacing='0'><tr><th>check</th><th>observed</th>"
                f"<th>expected</th></tr>{rows}</table>"
            )
        if self.link:
            what, url = self.link
            parts.append(f"<p><a href='{html.escape(url)}'>{html.escape(what)}</a> ({html.escape(url)})</p>")
        return "".join(parts)

    def slack_blocks(self) -> list[dict[str, Any]]:
        """The Slack message: the subject as its header, the facts as fields, checks and error below."""
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.subject[:150]}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{_mrkdwn(k)}*\n{_mrkdwn(v)}"} for k, v in self.facts[:10]],
            },
        ]
        if self.failed_checks:
            lines = [
                f"• `{_mrkdwn(str(r['check']))}` — observed *{_mrkdwn(str(r['observed']))}*, "
                f"expected *{_mrkdwn(str(r['expected']))}*"
                for r in self.failed_checks
            ]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
        if self.error:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*error*\n{_mrkdwn(self.error)}"[:3000]}}
            )
        if self.link:
            what, url = self.link
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{url}|{_mrkdwn(what)}>"}})
        return blocks


def _mrkdwn(text: str) -> str:
    """Slack's escaping: these three characters are its markup's control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def interval_text(start: datetime | None, end: datetime | None) -> str:
    return f"[{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC" if start and end else "(no data interval)"


def failure(context: Any) -> Alert:
    """The alert for a task that failed for good, from the task's context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    interval = interval_text(context.get("data_interval_start"), context.get("data_interval_end"))
    error = context.get("exception")
    failed = error.failed if isinstance(error, QualityChecksFailedError) else []
    what = f"{len(failed)} quality check(s) failed" if failed else "task failed"
    log_url = getattr(ti, "log_url", None)
    return Alert(
        subject=f"[sparkify] {dag_id} {interval}: {task_id} — {what}",
        facts=[
            ("DAG", dag_id),
            ("interval", interval),
            ("task", f"{task_id} (try {getattr(ti, 'try_number', '?')})"),
            ("run", str(context.get("run_id", ""))),
        ],
        error=f"{type(error).__name__}: {error}" if error else "unknown",
        failed_checks=failed,
        link=("the task's log", log_url) if log_url else None,
    )


def send(alert: Alert, context: Any) -> list[str]:
    """Send ``alert`` to every channel whose connection exists; return the connections it went through."""
    sent = []
    for conn_id, channel in CHANNELS:
        try:
            conn = get_connection(conn_id)
        except ConnectionNotConfiguredError as off:  # not defined (or unreadable, which the message says)
            LOG.info("alerts through %r are off: %s", conn_id, str(off).split(". Set ")[0])
            continue
        try:
            if channel(conn, alert, context):
                sent.append(conn_id)
        except Exception as exc:  # the task failed already; a mail or Slack problem must not hide that
            LOG.warning("alert not sent through %r: %s: %s", conn_id, type(exc).__name__, exc)
    return sent


def _mail(conn: Any, alert: Alert, context: Any) -> bool:
    to = conn.extra_dejson.get("to")
    if not to:
        LOG.warning('alert not sent: connection %r has no "to" in its extra', conn.conn_id)
        return False
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    SmtpNotifier(
        to=to,
        from_email=conn.extra_dejson.get("from_email"),
        subject=alert.subject,
        html_content=alert.html(),
        smtp_conn_id=conn.conn_id,
    ).notify(context)
    LOG.info("alert mailed to %s: %s", to, alert.subject)
    return True


def _slack(conn: Any, alert: Alert, context: Any) -> bool:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    SlackWebhookNotifier(
        slack_webhook_conn_id=conn.conn_id, text=alert.subject, blocks=alert.slack_blocks(), timeout=10
    ).notify(context)
    LOG.info("alert sent to Slack through %r: %s", conn.conn_id, alert.subject)
    return True


CHANNELS: list[tuple[str, Callable[[Any, Alert, Any], bool]]] = [(CONN_ID, _mail), (SLACK_CONN_ID, _slack)]


class FailureAlert(BaseNotifier):
    """``on_failure_callback`` that sends what failed to every alert channel that is on (a no-op when none is)."""

    template_fields = ()

    def notify(self, context: Any) -> None:
        send(failure(context), context)
