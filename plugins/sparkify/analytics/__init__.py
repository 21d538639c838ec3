"""Answers for the analytics team: one SQL question per file → tables in the ``analytics`` schema → one report."""

from sparkify.analytics.questions import QUESTIONS, Question
from sparkify.analytics.tables import SCHEMA, build_tables, read_answers

__all__ = ["QUESTIONS", "SCHEMA", "Question", "build_tables", "read_answers"]
