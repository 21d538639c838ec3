"""Registers the project's timetable with Airflow (required to serialise a custom timetable)."""

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from sparkify.timetables import HourlyDataIntervalTimetable


class SparkifyPlugin(AirflowPlugin):
    name = "sparkify"
    timetables: ClassVar[list] = [HourlyDataIntervalTimetable]
