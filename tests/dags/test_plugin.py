"""The plugin (plugins/sparkify_plugin.py): loads without I/O or connections, registers the timetables, and leaves
what the ETL's tasks run on imported — task processes are forked from processes that loaded it."""

from __future__ import annotations

from tests.dags.offline import run_offline


def test_the_plugin_registers_the_timetables_and_preloads_the_task_modules_without_io():
    lines = run_offline("""
import sparkify_plugin
print(sorted(t.__name__ for t in sparkify_plugin.SparkifyPlugin.timetables))
for name in ("psycopg", "pyarrow.json", "pyarrow.compute", "pgpq", "airflow.providers.postgres.hooks.postgres",
             "airflow.providers.amazon.aws.hooks.s3", "sparkify.operators", "sparkify.engines.postgres"):
    print(name, name in sys.modules)
""")
    names = ["DailyDataIntervalTimetable", "HourlyDataIntervalTimetable", "QuarterHourlyDataIntervalTimetable"]
    assert lines[0] == str(names)
    assert [line for line in lines[1:] if not line.endswith(" True")] == []
    assert len(lines) == 9
