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
