"""The plugin (plugins/sparkify_plugin.py): loads without I/O or connections, registers the timetables, and leaves
what the ETL's tasks run on imported — task processes are forked from processes that loaded it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_plugin_registers_the_timetables_and_preloads_the_task_modules_without_io():
    code = f"""
import os, socket, sys
for k in list(os.environ):
    if k.startswith("AIRFLOW_CONN_"):
        del os.environ[k]
def refuse(*a, **k):
    raise RuntimeError("network access while loading the plugin")
socket.socket.connect = refuse
socket.create_connection = refuse
sys.path.insert(0, {str(ROOT / "plugins")!r})
import sparkify_plugin
print(sorted(t.__name__ for t in sparkify_plugin.SparkifyPlugin.timetables))
for name in ("psycopg", "pyarrow.json", "pyarrow.compute", "pgpq", "airflow.providers.postgres.hooks.postgres",
             "airflow.providers.amazon.aws.hooks.s3", "sparkify.operators", "sparkify.engines.postgres"):
    print(name, name in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "['DailyDataIntervalTimetable', 'HourlyDataIntervalTimetable']"
    assert [line for line in lines[1:] if not line.endswith(" True")] == []
    assert len(lines) == 9
