"""The generator writes Sparkify-shaped data in the course layout, the same for the same seed."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tools.datagen import generate


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    stats = generate(out, seed=3, n_songs=400, days=4, start=date(2018, 11, 1), events_per_day=300)
    songs = [json.loads(p.read_text()) for p in (out / "song_data").rglob("*.json")]
    events = [
        json.loads(line) for p in sorted((out / "log_data").rglob("*.json")) for line in p.read_text().splitlines()
    ]
    return out, stats, songs, events


def test_layout_matches_the_course_bucket(data):
    out, stats, songs, _ = data
    assert (out / "log_json_path.json").exists()
    assert sorted(p.name for p in (out / "log_data" / "2018" / "11").iterdir()) == [
        f"2018-11-0{d}-events.json" for d in range(1, 5)
    ]
    for path in (out / "song_data").rglob("*.json"):
        track = path.stem
        assert track.startswith("TR")
        assert path.relative_to(out / "song_data").parts[:3] == (track[2], track[3], track[4])
    assert len(songs) == stats["songs"] == 400


def test_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, seed=9, n_songs=50, days=1)
    generate(b, seed=9, n_songs=50, days=1)
    files = sorted(p.relative_to(a) for p in a.rglob("*.json"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.json"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_events_have_the_course_shapes(data):
    _, stats, songs, events = data
    assert len(events) == stats["events"] > 1000
    assert all(isinstance(e["userId"], str) for e in events)
    logged_out = [e for e in events if e["userId"] == ""]
    assert logged_out
    assert all(e["firstName"] is None and e["auth"] == "Logged Out" for e in logged_out)
    assert all(isinstance(e["ts"], int) and e["ts"] > 1_500_000_000_000 for e in events)
    levels = {}
    for e in sorted(events, key=lambda e: e["ts"]):
        if e["userId"]:
            levels.setdefault(e["userId"], set()).add(e["level"])
    assert any(len(v) == 2 for v in levels.values())  # some users switch between free and paid
    plays = [e for e in events if e["page"] == "NextSong"]
    catalogue = {(str(s["title"]), str(s["artist_name"]), s["duration"]) for s in songs}
    matched = sum((e["song"], e["artist"], e["length"]) in catalogue for e in plays)
    assert 0.02 < matched / len(plays) < 0.10


def test_songs_carry_the_course_quirks(tmp_path):
    generate(tmp_path, seed=1, n_songs=3000, days=1)
    songs = [json.loads(p.read_text()) for p in (tmp_path / "song_data").rglob("*.json")]
    assert any(not isinstance(s["title"], str) for s in songs)  # numeric titles now and then
    assert any(s["year"] == 0 for s in songs)
    names = {}
    for s in songs:
        names.setdefault(s["artist_id"], set()).add((str(s["artist_name"]), str(s["artist_location"])))
    assert any(len(v) > 1 for v in names.values())  # artist rows that disagree


def test_a_live_day_is_deterministic_covers_the_day_and_plays_the_demo_catalogue():
    import json
    import random
    from datetime import UTC, date, datetime

    from tools.datagen import live_day, log_key, make_songs

    day = date(2026, 11, 27)
    data = live_day(day, seed=42)
    assert data == live_day(day, seed=42)
    assert data != live_day(date(2026, 11, 28), seed=42)
    events = [json.loads(line) for line in data.splitlines()]
    hours = {datetime.fromtimestamp(e["ts"] / 1000, UTC).hour for e in events if e["page"] == "NextSong"}
    days = {datetime.fromtimestamp(e["ts"] / 1000, UTC).date() for e in events}
    assert days == {day}
    assert len(hours) == 24  # plays in every hour: each live run changes the tables
    catalogue = {(s.title, s.artist_name) for s in make_songs(random.Random(42), 1500)}  # what generate(seed=42) makes
    plays = [e for e in events if e["page"] == "NextSong"]
    assert any((e["song"], e["artist"]) in catalogue for e in plays)
    assert min(e["sessionId"] for e in events) > 31 * 10_000  # never a session of the generated month
    assert log_key(day) == "log_data/2026/11/2026-11-27-events.json"
