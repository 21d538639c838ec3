"""The staging benchmark runs end to end at a tiny scale, so it cannot rot (its numbers are not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_stage_bench_runs_at_a_tiny_scale(local_stack, tmp_path):
    out = tmp_path / "results.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench.stage_bench", "--scale", "0.2", "--songs", "50", "--big-mb", "3",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = out.read_text()
    for line in ("StageToRedshiftOperator", "raw `COPY FROM STDIN`", "S3ToSqlOperator", "Peak RSS",
                 "stage_songs with no new song files", "| staging vs raw COPY"):  # fmt: skip
        assert line in report
    assert "0 read" in report  # an idle hour reads no song object
