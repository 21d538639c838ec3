"""HourlyDataIntervalTimetable: one-hour data intervals whose logical date is the start of the hour.

Airflow 3's ``@hourly`` is a trigger timetable with zero-length data intervals, which is no use to an interval
ETL. A cron *data-interval* timetable gives real ``[h, h+1)`` intervals to scheduled and backfilled runs, whose
logical date is the interval's start. For a manual run (UI, REST API, ``airflow dags test <date>``) Airflow's
stock version instead picks the *previous* complete hour; this one makes every kind of run agree: the run for
logical date 2018-11-15T16:00Z processes [16:00, 17:00) UTC (a time inside an hour selects that hour).
"""

from __future__ import annotations

from typing import Any

from airflow.timetables.base import DataInterval
from airflow.timetables.interval import CronDataIntervalTimetable


class HourlyDataIntervalTimetable(CronDataIntervalTimetable):
    """Hourly ``[h, h+1)`` UTC data intervals; any run's logical date is the start of the hour it covers."""

    def __init__(self) -> None:
        super().__init__("0 * * * *", timezone="UTC")

    @property
    def summary(self) -> str:
        return "hourly [h, h+1) UTC"

    def infer_manual_data_interval(self, *, run_after: Any) -> DataInterval:
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))

    def serialize(self) -> dict[str, Any]:
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> HourlyDataIntervalTimetable:
        return cls()
