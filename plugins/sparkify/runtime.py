"""What every task reads from its run, in the form the warehouse stores: naive UTC timestamps and plain text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException


class InvalidArgumentError(AirflowFailException):
    """An operator argument that cannot work: refused when the DAG is parsed where it is not templated, and
    failed without retries where it is (retrying will not change it)."""


def naive_utc(value: datetime) -> datetime:
    """A timestamp as the warehouse's ``TIMESTAMP`` columns hold it: UTC, without a time zone."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def interval_parameters(context: Any) -> dict[str, datetime]:
    """The run's data interval, bound to SQL as ``%(data_interval_start)s`` / ``%(data_interval_end)s``."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise AirflowFailException("the run has no data interval (use an interval timetable)")
    return {"data_interval_start": naive_utc(start), "data_interval_end": naive_utc(end)}


def run_id(context: Any) -> str:
    return str(context.get("run_id") or "")


def logical_date(context: Any) -> datetime | None:
    """The run's logical date (naive UTC); the interval's start for a run without one (Airflow 3 allows it)."""
    value = context.get("logical_date") or context.get("data_interval_start")
    return naive_utc(value) if value else None


def is_template(value: Any) -> bool:
    """Whether a parameter is still a Jinja template (checked again once the task renders it)."""
    return isinstance(value, str) and "{{" in value


TYPE_WORDS = {int: "a whole number", bool: "true or false", str: "text"}


def require_type(value: Any, expected: type, name: str, *, minimum: int | None = None) -> Any:
    """``value`` if it is an ``expected`` (and ``>= minimum``), else a clear error naming the parameter.

    The DAGs render templates as native objects (``render_template_as_native_obj``), so a templated ``int`` or
    ``bool`` arrives as one; text here means a DAG that renders templates to text, or a typo.
    """
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok or (minimum is not None and value < minimum):
        wanted = TYPE_WORDS.get(expected, expected.__name__) + (f" >= {minimum}" if minimum is not None else "")
        hint = ""
        if isinstance(value, str) and expected is not str:
            hint = " (a template rendered as text: set render_template_as_native_obj=True on the DAG)"
        raise InvalidArgumentError(f"{name} must be {wanted}, got {value!r}{hint}")
    return value
