"""Registers the project's timetables with Airflow (required to serialise a custom timetable)."""

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from sparkify.timetables import DailyDataIntervalTimetable, HourlyDataIntervalTimetable


class SparkifyPlugin(AirflowPlugin):
    name = "sparkify"
    timetables: ClassVar[list] = [HourlyDataIntervalTimetable, DailyDataIntervalTimetable]
