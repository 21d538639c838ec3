"""bench.peers without running a peer: pinned, local-only, and each peer typed column for column like ours."""

from __future__ import annotations

import re

from bench import peers


def expressions(select_list: str) -> list[str]:
    """A select list split at its top-level commas."""
    parts, depth, current = [], 0, ""
    for ch in select_list:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()]


def test_every_peer_is_pinned_to_one_version():
    assert all(re.fullmatch(r"[a-z0-9_\-\[\],]+==\d+(\.\d+)+", pin) for pin in peers.PINS)


def test_each_peer_gives_every_staging_column_in_order():
    staged = [c.strip() for c in peers.STAGED.split(",")]
    assert staged[-3:] == ["ts", "user_agent", "user_id"]
    for peer, select_list in peers.TYPED.items():
        exprs = expressions(select_list)
        assert len(exprs) == len(staged), peer
        assert "INTERVAL '1 millisecond'" in exprs[staged.index("ts")], peer  # ts from epoch milliseconds


def test_the_peers_reach_the_local_s3_server_only(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", "postgres://elsewhere/db")
    env = peers.peer_env()
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert "AWS_PROFILE" not in env
    assert "AIRFLOW_CONN_REDSHIFT" not in env


def test_the_report_puts_the_peers_beside_ours_at_every_scale_and_judges_them_at_100x(tmp_path, monkeypatch):
    """Section 1, its RSS table, the targets and the plot, from made-up times (a staging-only 300× point too)."""
    from argparse import Namespace

    from bench import stage_bench
    from bench.__main__ import Report
    from bench.dag_bench import DagTimes
    from bench.stage_bench import Idle, StagingTimes

    monkeypatch.setattr(stage_bench, "machine", lambda: "a test machine")  # no servers asked

    def staging(rows: int, ours: float, s3_to_sql: float | None) -> StagingTimes:
        return StagingTimes(
            rows=rows,
            ours=[ours, ours * 1.1, ours * 0.9],
            raw=[ours * 1.2] * 3,
            unmeasured=[ours * 0.95] * 3,
            s3_to_sql=s3_to_sql,
            peers={"dlt": [ours * 1.5] * 3, "sling": [ours * 6] * 3},
            peak_rss_mib={"ours": 200.0, "dlt": 600.0, "sling": 140.0},
        )

    dags = DagTimes(etl=[11.0], floor=[10.0], publish=[0.05])
    rows = {
        scale: {"data": {"events": n}, "mb": n / 2000, "staging": staging(n, n / 120_000, 0 if scale == 300 else 9.0)}
        for scale, n in ((1, 8_000), (100, 800_000), (300, 2_400_000))
    }
    rows[1] |= {"dags_test": dags, "backfill": dags}
    rows[100] |= {"dags_test": dags, "backfill": dags}
    a = Namespace(scales=[1, 100], curve_scales=[300], hours=1, backfill_hours=1, backfill_repeat=1, big_mb=3,
                  dag_songs=30, catalogue_songs=50, repeat=3, no_peers=False)  # fmt: skip
    report = Report(a, rows, 3e6, 6000, 250.0, 120.0, Idle([0.5], [0.4], 0, 50), None)
    text = report.markdown(60)
    assert "--curve-scales 300" in text
    assert "| scale | events | MB | ours s | raw COPY s | dlt s | sling s | S3ToSqlOperator s |" in text
    assert "| 300× | 2,400,000 | 1,200.0 | 20.00 | 24.00 | 30.00 | 120.00 | — | 120,000 | 1.20 | 1.50 (dlt) |" in text
    assert "| 100× | 200 | 600 | 140 |" in text
    assert "| staging vs raw COPY at 100× (rows/s ratio) | 1.20 | >= 1.0 | pass |" in text
    assert "| staging vs the fastest peer (dlt) at 100× (rows/s ratio) | 1.50 | >= 2 | MISS |" in text
    assert "| 300× | " not in text.split("## What the gate costs")[1].split("##")[0]  # no DAG runs there
    report.plot(tmp_path / "results.png")
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
