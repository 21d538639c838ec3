"""Data-interval timetables whose logical date is the start of the interval they cover: hourly and daily.

Airflow 3's ``@hourly``/``@daily`` are trigger timetables with zero-length data intervals, which are no use to an
interval ETL. A cron *data-interval* timetable gives real ``[h, h+1)`` (or ``[d, d+1)``) intervals to scheduled and
backfilled runs, whose logical date is the interval's start. For a manual run (UI, REST API, ``airflow dags test
<date>``) Airflow's stock version instead picks the *previous* complete interval; these make every kind of run
agree: the run for logical date 2018-11-15T16:00Z processes [16:00, 17:00) UTC hourly, [11-15, 11-16) daily (a
time inside an interval selects that interval).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.timetables.base import DataInterval
from airflow.timetables.interval import CronDataIntervalTimetable


class _AlignedDataIntervalTimetable(CronDataIntervalTimetable):
    cron: ClassVar[str]
    label: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(self.cron, timezone="UTC")

    @property
    def summary(self) -> str:
        return self.label

    def infer_manual_data_interval(self, *, run_after: Any) -> DataInterval:
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))

    def serialize(self) -> dict[str, Any]:
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> _AlignedDataIntervalTimetable:
        return cls()


class HourlyDataIntervalTimetable(_AlignedDataIntervalTimetable):
    """Hourly ``[h, h+1)`` UTC data intervals; any run's logical date is the start of the hour it covers."""

    cron = "0 * * * *"
    label = "hourly [h, h+1) UTC"


class DailyDataIntervalTimetable(_AlignedDataIntervalTimetable):
    """Daily ``[d, d+1)`` UTC data intervals; any run's logical date is the start of the day it covers."""

    cron = "0 0 * * *"
    label = "daily [d, d+1) UTC"


class QuarterHourlyDataIntervalTimetable(_AlignedDataIntervalTimetable):
    """Quarter-hour ``[m, m+15)`` UTC data intervals (the deadline watch's cadence)."""

    cron = "*/15 * * * *"
    label = "every 15 minutes, [m, m+15) UTC"
