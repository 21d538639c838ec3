"""The analytics report: one self-contained HTML page (plotly.js embedded: it opens without a network).

Every figure comes from the answers' tables (``analytics.*``), read back as they are; the page says what period
it covers, when it was built, by what and from which ETL runs. Elements carrying a number an analyst would quote
have a ``data-kpi`` attribute, so a browser test can read them.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sparkify.analytics.questions import QUESTIONS
from sparkify.sql import SQL_DIR

TEMPLATE = SQL_DIR.parent / "templates" / "analytics_report.html.j2"
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
SESSION_BINS = (0, 1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240)  # minutes: the histogram's left edges


def kpis(answers: Mapping[str, list[dict[str, Any]]], coverage: Mapping[str, Any]) -> dict[str, Any]:
    """The headline numbers, each computed from one answer table."""
    levels = {r["level"]: r for r in answers["listening_by_level"]}
    resolution = answers["song_resolution"][0] if answers["song_resolution"] else {}
    sessions = answers["sessions"]
    changes = answers["level_changes"]
    top = answers["top_songs"][0] if answers["top_songs"] else None
    return {
        "plays": coverage["songplays"],
        "users": coverage["users"],
        "paid_share_pct": float(levels["paid"]["share_of_plays_pct"]) if "paid" in levels else 0.0,
        "resolved_pct": float(resolution.get("resolved_pct") or 0),
        "sessions": len(sessions),
        "median_session_minutes": float(statistics.median(float(s["minutes"]) for s in sessions)) if sessions else 0,
        "upgrades": sum(1 for c in changes if c["change"] == "upgrade"),
        "downgrades": sum(1 for c in changes if c["change"] == "downgrade"),
        "top_song_title": top["title"] if top else None,
        "top_song_plays": top["plays"] if top else 0,
    }


def session_histogram(sessions: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[int]]:
    """Sessions counted by length bucket (minutes), labelled like ``10–20``; the last bucket is open."""
    counts = [0] * len(SESSION_BINS)
    for s in sessions:
        minutes = float(s["minutes"])
        counts[max(i for i, edge in enumerate(SESSION_BINS) if minutes >= edge)] += 1
    labels = [f"{a}–{b}" for a, b in itertools.pairwise(SESSION_BINS)] + [f"{SESSION_BINS[-1]}+"]
    return labels, counts


def figures(answers: Mapping[str, list[dict[str, Any]]]) -> dict[str, str]:
    """One chart per question that has one, as HTML ``<div>``s (plotly.js itself is added once, by the page)."""
    import plotly.graph_objects as go

    songs = list(reversed(answers["top_songs"][:10]))
    artists = list(reversed(answers["top_artists"][:10]))
    levels = answers["listening_by_level"]
    labels, counts = session_histogram(answers["sessions"])
    charts = {
        "top_songs": _bars(go, [r["plays"] for r in songs], [f"{r['title']} — {r['artist_name']}" for r in songs]),
        "top_artists": _bars(go, [r["plays"] for r in artists], [r["artist_name"] for r in artists], "#1e88e5"),
        "plays_by_hour_weekday": _heatmap(go, answers["plays_by_hour_weekday"]),
        "listening_by_level": go.Figure(
            go.Pie(labels=[r["level"] for r in levels], values=[r["plays"] for r in levels], hole=0.5, sort=False)
        ),
        "daily_active_users": _daily_users(go, answers["daily_active_users"]),
        "sessions": go.Figure(go.Bar(x=labels, y=counts, marker_color="#8e24aa")),
    }
    return {name: _chart_html(fig, name) for name, fig in charts.items()}


def _chart_html(fig: Any, name: str) -> str:
    fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=360, template="plotly_white")
    config = {"displaylogo": False, "responsive": True}
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}", config=config)


def _bars(go: Any, values: list[Any], labels: list[str], color: str = "#1db954") -> Any:
    return go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color=color))


def _heatmap(go: Any, grid: list[dict[str, Any]]) -> Any:
    z = [
        [next((c["plays"] for c in grid if c["weekday"] == d and c["hour"] == h), 0) for h in range(24)]
        for d in range(7)
    ]
    heatmap = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{h:02d}" for h in range(24)],
            y=list(WEEKDAYS),
            colorscale="Greens",
            hovertemplate="%{y} %{x}:00 UTC: %{z} plays<extra></extra>",
        )
    )
    heatmap.update_yaxes(autorange="reversed")  # Sunday on top, as calendars read
    return heatmap


def _daily_users(go: Any, days: list[dict[str, Any]]) -> Any:
    daily = go.Figure()
    x = [str(r["day"]) for r in days]
    daily.add_trace(go.Scatter(x=x, y=[r["active_users"] for r in days], name="active users", mode="lines+markers"))
    daily.add_trace(go.Scatter(x=x, y=[r["paid_users"] for r in days], name="paid users", mode="lines+markers"))
    return daily


def render(
    answers: Mapping[str, list[dict[str, Any]]],
    coverage: Mapping[str, Any],
    *,
    built_at: datetime,
    built_by: str,
    source_runs: Sequence[str],
    engine: str,
    publication: Mapping[str, Any] | None = None,
) -> str:
    """The whole page as one string; ``publication`` (:func:`sparkify.publication.status`) heads it with what is
    published and lists what is held back."""
    import jinja2
    import plotly.offline

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["n"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        questions=QUESTIONS,
        answers=answers,
        coverage=coverage,
        kpi=kpis(answers, coverage),
        charts=figures(answers),
        built_at=built_at,
        built_by=built_by,
        source_runs=list(source_runs),
        engine=engine,
        publication=publication,
        weekdays=WEEKDAYS,
        plotly_js=plotly.offline.get_plotlyjs(),
    )


def write_local(html: str, path: Path) -> Path:
    """Write the page atomically (a reader never sees half a page); return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
