"""Run code in a fresh interpreter with no Airflow connections and the network refused: what parsing a DAG or
loading the plugin may do (imports, no I/O)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PREAMBLE = f"""
import os, socket, sys
for k in list(os.environ):
    if k.startswith("AIRFLOW_CONN_"):
        del os.environ[k]
def refuse(*a, **k):
    raise RuntimeError("network access while parsing or loading plugins")
socket.socket.connect = refuse
socket.create_connection = refuse
sys.path.insert(0, {str(ROOT / "plugins")!r})
"""


def run_offline(code: str) -> list[str]:
    """The lines ``code`` prints; fails (with its stderr) if it raises."""
    out = subprocess.run([sys.executable, "-c", PREAMBLE + code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()
