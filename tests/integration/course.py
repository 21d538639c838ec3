"""Expectations for the course data, computed from the raw JSON files with the standard library only.

Never through project code: these are what the DAG's results are checked against.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import course_data_or_skip, utc

MONTH = (utc(2018, 11, 1), utc(2018, 12, 1))


def raw_events() -> list[dict]:
    events = []
    for path in sorted((course_data_or_skip() / "log_data").rglob("*.json")):
        events += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return events


def raw_songs() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in (course_data_or_skip() / "song_data").rglob("*.json")]


def ts(event: dict) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=event["ts"])


def expected_for(events: list[dict], songs: list[dict], start: datetime, end: datetime) -> dict:
    lo, hi = start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None)
    inside = [e for e in events if lo <= ts(e) < hi]
    plays = [e for e in inside if e["page"] == "NextSong"]
    catalogue = {(str(s["title"]), str(s["artist_name"]), s["duration"]) for s in songs}
    latest: dict[str, dict] = {}
    for e in sorted(events, key=lambda e: e["ts"]):  # the level of each user's latest event overall so far
        if e["userId"] and lo <= ts(e) < hi:
            latest[e["userId"]] = e
    return {
        "songplays": len(plays),
        "resolved": sum((e["song"], e["artist"], e["length"]) in catalogue for e in plays),
        "time": len({e["ts"] for e in plays}),
        "users": {uid: e["level"] for uid, e in latest.items()},
    }
