"""The questions the analytics team asks, each answered by one statement in ``include/sql/analytics/<name>.sql``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    name: str  # the SQL file and the table in the analytics schema
    title: str
    asks: str

    @property
    def sql_path(self) -> str:
        return f"analytics/{self.name}.sql"


QUESTIONS: tuple[Question, ...] = (
    Question("top_songs", "Most played songs", "Which songs do users play most?"),
    Question("top_artists", "Most played artists", "Which artists do users play most?"),
    Question("plays_by_hour_weekday", "Plays by hour and weekday", "When during the week do users listen?"),
    Question("listening_by_level", "Free vs paid listening", "How much listening comes from paid users?"),
    Question("level_changes", "Upgrades and downgrades", "Which users changed their subscription level, and when?"),
    Question("daily_active_users", "Active users per day", "How many users listen each day?"),
    Question("song_resolution", "Plays that resolve to a known song", "How much of the listening can we attribute?"),
    Question("sessions", "Sessions and their length", "How long do users listen in one sitting?"),
)
