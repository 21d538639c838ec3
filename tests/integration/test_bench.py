"""The benchmark runs end to end at a tiny scale, so it cannot rot (its numbers are not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def test_the_benchmark_runs_at_a_tiny_scale(local_stack, tmp_path):
    out = tmp_path / "results.md"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scales",
            "0.05",
            "--hours",
            "1",
            "--backfill-hours",
            "1",
            "--no-warm-up",
            "--big-mb",
            "3",
            "--dag-songs",
            "30",
            "--catalogue-songs",
            "50",
            "--repeat",
            "1",
            "--backfill-repeat",
            "1",
            "--no-course-month",
            "--no-peers",  # their virtualenv takes ~40 s to install: tests/unit/test_bench_peers.py covers them
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = out.read_text()
    for line in (
        "## 1. Staging",
        "| 0.05× | ",
        "## 2. Peak memory",
        "## 3. An hourly run",
        "## 4. stage_songs",
        "| staging vs raw COPY at 0.05×",
        "| airflow dags test, one hour at 0.05×: ETL / floor",
        "| 1-hour backfill at 0.05×: ETL / floor",
    ):
        assert line in report
    assert "50 objects listed, 0 read" in report  # an idle hour reads no song object
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
