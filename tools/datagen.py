"""Generate Sparkify-shaped data in the course layout, deterministically from a seed.

    python -m tools.datagen --out .local/data/generated --seed 42 [--songs 1500] [--start 2018-11-01 --days 30]
    python -m tools.datagen --out .local/data/scale-10 --scale 10 [--songs 20000]   # N× the course volume

Writes ``song_data/A/B/C/TRABC….json`` (one compact JSON song per object, keys sorted like the course files),
``log_data/YYYY/MM/YYYY-MM-DD-events.json`` (JSON lines, one file a day) and ``log_json_path.json``.

The shapes follow the course data: string ``userId`` (empty, with null name/gender/location/userAgent, for
logged-out events), epoch-millisecond ``ts``, float ``registration``, users who switch between free and paid,
artist_ids whose rows disagree on name/location, now and then a title or artist name that is a JSON number,
text with quotes, backslashes, tabs and non-ASCII characters, and NextSong events of which a small share
(``--match-rate``, about 5% like the course) name a catalogue song by exactly title + artist + duration.
"""

from __future__ import annotations

import argparse
import random
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import yaml

from tools.progress import progress

SYLLABLES = ["la", "mo", "ri", "ka", "ne", "so", "ta", "vi", "lu", "dor", "sen", "mar", "qu", "bel", "zan", "fi"]
WORDS = [
    "love",
    "night",
    "river",
    "fire",
    "heart",
    "city",
    "dream",
    "blue",
    "road",
    "rain",
    "gold",
    "light",
    "shadow",
    "home",
    "wild",
    "song",
    "ocean",
    "stone",
    "summer",
    "echo",
    "Señorita",
    "Café",
    "Ünter",
    "naïve",
    "Ōkami",
]
FIRST = [
    "Ryan",
    "Lily",
    "Jacob",
    "Kaylee",
    "Chloe",
    "Aleena",
    "Tegan",
    "Jayden",
    "Mohammad",
    "Zoë",
    "Amélie",
    "Liam",
    "Ava",
    "Noah",
    "Sofía",
    "Kenji",
]
LAST = [
    "Smith",
    "Koch",
    "Klein",
    "Cruz",
    "Dominguez",
    "Levine",
    "O'Brien",
    "Müller",
    "Nguyen",
    "Garcia",
    "Kowalski",
    "Ishikawa",
]
PLACES = [
    "San Jose-Sunnyvale-Santa Clara, CA",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs, GA",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Portland-South Portland, ME",
    "San Juan-Carolina, PR",
    "Lansing-East Lansing, MI",
    "Tampa-St. Petersburg-Clearwater, FL",
]
ARTIST_PLACES = [
    "GERMANY",
    "London, England",
    "Los Angeles, CA",
    "Québec, Canada",
    "Tokyo, Japan",
    "",
    None,
    "Nashville, TN",
    "Kingston, Jamaica",
]
AGENTS = [
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 '
    'Chrome/36.0.1985.125 Safari/537.36"',
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
]
OTHER_PAGES = [
    "Home",
    "Thumbs Up",
    "Add to Playlist",
    "Settings",
    "Help",
    "Thumbs Down",
    "About",
    "Downgrade",
    "Upgrade",
    "Add Friend",
    "Error",
]
CONTRACTS = Path(__file__).resolve().parents[1] / "include" / "contracts"
# The activity log's fields as its source contract declares them (in the order of the course's log_json_path.json).
LOG_FIELDS = tuple(yaml.safe_load((CONTRACTS / "log_data.yaml").read_text())["fields"])
JSON_PATHS = {"jsonpaths": [f"$['{k}']" for k in LOG_FIELDS]}  # the course's log_json_path.json, in order


def _id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices(string.ascii_uppercase + string.digits, k=16))


def _name(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words):
        w = rng.choice(WORDS) if rng.random() < 0.6 else "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3)))
        parts.append(w.capitalize() if w.islower() else w)
    return " ".join(parts)


def _odd_text(rng: random.Random, text: str) -> str:
    """Now and then, the characters that break naive loaders: quotes, backslashes, tabs, a literal \\N."""
    roll = rng.random()
    if roll < 0.01:
        return text + ' "Live"'
    if roll < 0.015:
        return text + " \\ Remix"
    if roll < 0.018:
        return text + "\tDemo"
    if roll < 0.02:
        return text + " \\N"
    return text


@dataclass
class Song:
    song_id: str
    title: object
    artist_id: str
    artist_name: object
    artist_location: object
    artist_latitude: float | None
    artist_longitude: float | None
    duration: float
    year: int
    track_id: str


def make_songs(rng: random.Random, n_songs: int) -> list[Song]:
    n_artists = max(1, int(n_songs * 0.64))
    artists = []
    for _ in range(n_artists):
        name: object = _name(rng, rng.randint(1, 3))
        if rng.random() < 0.0015:
            name = rng.choice([311, 702, 2002, 98])
        has_coords = rng.random() < 0.45
        artists.append(
            (
                _id(rng, "AR"),
                name,
                rng.choice(ARTIST_PLACES) if rng.random() > 0.001 else 1986,
                round(rng.uniform(-60, 70), 5) if has_coords else None,
                round(rng.uniform(-150, 150), 5) if has_coords else None,
            )
        )
    songs = []
    for i in range(n_songs):
        artist_id, name, location, lat, lon = artists[i % n_artists] if i < n_artists else rng.choice(artists)
        if rng.random() < 0.04:  # the same artist_id, spelled or placed differently in this song's file
            name = f"{name} featuring {_name(rng, 1)}" if isinstance(name, str) else name
            location = rng.choice(ARTIST_PLACES)
        title: object = _odd_text(rng, _name(rng, rng.randint(1, 4)))
        if rng.random() < 0.0013:
            title = rng.choice([1999, 22, 4.6, 7])
        songs.append(
            Song(
                song_id=_id(rng, "SO"),
                title=title,
                artist_id=artist_id,
                artist_name=name,
                artist_location=location,
                artist_latitude=lat,
                artist_longitude=lon,
                duration=round(rng.uniform(60, 600), 5),
                year=0 if rng.random() < 0.32 else rng.randint(1955, 2010),
                track_id="TR" + _id(rng, "")[:16],
            )
        )
    return songs


def write_songs(out: Path, songs: list[Song]) -> None:
    for s in songs:
        key = out / "song_data" / s.track_id[2] / s.track_id[3] / s.track_id[4] / f"{s.track_id}.json"
        key.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "artist_id": s.artist_id,
            "artist_latitude": s.artist_latitude,
            "artist_location": s.artist_location,
            "artist_longitude": s.artist_longitude,
            "artist_name": s.artist_name,
            "duration": s.duration,
            "num_songs": 1,
            "song_id": s.song_id,
            "title": s.title,
            "year": s.year,
        }
        key.write_bytes(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))


@dataclass
class User:
    user_id: str
    first: str
    last: str
    gender: str
    level: str
    location: str
    agent: str
    registration: float


def make_users(rng: random.Random, n_users: int) -> list[User]:
    users = []
    for i in range(n_users):
        users.append(
            User(
                user_id=str(i + 2),
                first=rng.choice(FIRST),
                last=rng.choice(LAST),
                gender=rng.choice("FM"),
                level="paid" if rng.random() < 0.25 else "free",
                location=rng.choice(PLACES),
                agent=rng.choice(AGENTS),
                registration=float(1540000000000 + rng.randint(0, 10**9) // 1000 * 1000 + 796),
            )
        )
    return users


def log_event(u: User | None, ts: int, session: int, item: int, page: str, **song) -> dict:
    logged_in = u is not None
    return {
        "artist": song.get("artist"),
        "auth": "Logged In" if logged_in else "Logged Out",
        "firstName": u.first if u else None,
        "gender": u.gender if u else None,
        "itemInSession": item,
        "lastName": u.last if u else None,
        "length": song.get("length"),
        "level": u.level if u else "free",
        "location": u.location if u else None,
        "method": "PUT" if page == "NextSong" else "GET",
        "page": page,
        "registration": u.registration if u else None,
        "sessionId": session,
        "song": song.get("song"),
        "status": 200,
        "ts": ts,
        "userAgent": u.agent if u else None,
        "userId": u.user_id if u else "",
    }


def make_day(
    rng: random.Random,
    day: date,
    users: list[User],
    songs: list[Song],
    weights: list[float],
    session_base: int,
    events_per_day: int,
    match_rate: float,
) -> list[dict]:
    events: list[dict] = []
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    session = session_base
    while len(events) < events_per_day:
        session += 1
        ts = start + rng.randint(0, 86_399) * 1000 + 796
        if rng.random() < 0.04:  # a logged-out visitor
            for item in range(rng.randint(1, 3)):
                events.append(log_event(None, ts, session, item, rng.choice(["Home", "Login", "About", "Help"])))
                ts += rng.randint(5_000, 60_000)
            continue
        user = rng.choice(users)
        for item in range(rng.randint(1, 40)):
            if rng.random() < 0.85:
                if rng.random() < match_rate:
                    s = rng.choices(songs, weights=weights)[0]
                    fields = {"artist": s.artist_name, "song": s.title, "length": s.duration}
                    if not isinstance(s.artist_name, str) or not isinstance(s.title, str):
                        fields = {"artist": str(s.artist_name), "song": str(s.title), "length": s.duration}
                else:
                    fields = {
                        "artist": _name(rng, 2),
                        "song": _odd_text(rng, _name(rng, 3)),
                        "length": round(rng.uniform(60, 600), 5),
                    }
                events.append(log_event(user, ts, session, item, "NextSong", **fields))
                ts += int(fields["length"] * 1000)
            else:
                page = rng.choice(OTHER_PAGES)
                if page in ("Upgrade", "Downgrade") and rng.random() < 0.5:
                    user.level = "paid" if page == "Upgrade" else "free"  # later events carry the new level
                events.append(log_event(user, ts, session, item, page))
                ts += rng.randint(1_000, 30_000)
            if ts >= start + 86_400_000:
                break
    events = [e for e in events if e["ts"] < start + 86_400_000]
    events.sort(key=lambda e: (e["ts"], e["sessionId"], e["itemInSession"]))
    return events


def generate(
    out: Path,
    seed: int = 42,
    n_songs: int = 1500,
    start: date = date(2018, 11, 1),
    days: int = 30,
    events_per_day: int = 270,
    n_users: int = 100,
    match_rate: float = 0.05,
) -> dict[str, int]:
    rng = random.Random(seed)
    songs = make_songs(rng, n_songs)
    write_songs(out, songs)
    weights = [1.0 / (rank + 1) for rank in range(len(songs))]  # Zipf-like popularity
    users = make_users(rng, n_users)
    n_events = 0
    with progress(f"generating {days} days of events", days, "days") as done:
        for d in range(days):
            day = start + timedelta(days=d)
            events = make_day(rng, day, users, songs, weights, (d + 1) * 10_000, events_per_day, match_rate)
            path = out / log_key(day)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
            n_events += len(events)
            done()
    (out / "log_json_path.json").write_bytes(orjson.dumps(JSON_PATHS, option=orjson.OPT_INDENT_2))
    return {"songs": len(songs), "events": n_events, "days": days}


def live_day(
    day: date,
    seed: int = 42,
    n_songs: int = 1500,
    n_users: int = 100,
    events_per_day: int = 2400,  # every hour has plays (the course averages 270 a day)
    match_rate: float = 0.05,
) -> bytes:
    """The activity log of one calendar day (UTC) for the live local stack, as JSON lines.

    Deterministic for (day, seed): re-seeding the same day writes the same bytes (the same ETag, so staging
    reads it once). The songs and users are those ``generate(seed=seed)`` makes with the same counts, so plays
    resolve against the catalogue ``make demo`` seeds; sessions are numbered from the day's ordinal and never
    collide with another day's.
    """
    rng = random.Random(seed)
    songs = make_songs(rng, n_songs)
    users = make_users(rng, n_users)
    weights = [1.0 / (rank + 1) for rank in range(len(songs))]
    day_rng = random.Random(f"{seed}-{day.isoformat()}")
    events = make_day(day_rng, day, users, songs, weights, day.toordinal() * 10_000, events_per_day, match_rate)
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def log_key(day: date) -> str:
    """Where the course bucket keeps a day's activity log."""
    return f"log_data/{day:%Y}/{day:%m}/{day:%Y-%m-%d}-events.json"


COURSE_SONGS, COURSE_EVENTS_PER_DAY, COURSE_USERS = 14_896, 8_056 / 30, 97


def scaled_volume(scale: float) -> dict[str, int]:
    """``generate`` arguments for N× the course volume: songs, events a day and users."""
    return {
        "n_songs": max(1, round(COURSE_SONGS * scale)),
        "events_per_day": max(1, round(COURSE_EVENTS_PER_DAY * scale)),
        "n_users": max(2, round(COURSE_USERS * scale)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--scale",
        type=float,
        help="N× the course volume: 14,896·N songs, 268.5·N events a day, 97·N users (overrides those options)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--songs", type=int, default=None, help="song objects (default 1,500, or 14,896·N with --scale)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2018, 11, 1))
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--events-per-day", type=int, default=270)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--match-rate", type=float, default=0.05)
    a = p.parse_args()
    if a.scale:
        volume = scaled_volume(a.scale)
        a.songs = a.songs or volume["n_songs"]
        a.events_per_day, a.users = volume["events_per_day"], volume["n_users"]
    stats = generate(a.out, a.seed, a.songs or 1500, a.start, a.days, a.events_per_day, a.users, a.match_rate)
    print(f"generated {stats['songs']:,} songs and {stats['events']:,} events over {stats['days']} days in {a.out}")


if __name__ == "__main__":
    main()
