"""Quality families compile to one parameterised query each, valid on Redshift and PostgreSQL."""

from __future__ import annotations

import pytest

from sparkify.quality import Check, accepted_values, custom_sql, freshness, not_null, relationships, row_count, unique
from sparkify.warehouse_checks import SPARKIFY_CHECKS
from tests.unit.test_sql import parse


@pytest.mark.parametrize("check", SPARKIFY_CHECKS, ids=lambda c: c.name)
@pytest.mark.parametrize("dialect", ["redshift", "postgres"])
def test_declared_checks_parse_on_both_engines(check, dialect):
    assert not parse(check.sql, dialect).violations


def test_declared_checks_cover_every_table_and_have_unique_names():
    names = [c.name for c in SPARKIFY_CHECKS]
    assert len(names) == len(set(names))
    for table in ("songplays", "users", "songs", "artists", "time"):
        assert any(table in n for n in names), table


def test_values_are_bound_not_formatted():
    check = accepted_values("users", "level", ["free", "paid'; DROP TABLE users; --"])
    assert "DROP" not in check.sql
    assert check.params == {"accepted_0": "free", "accepted_1": "paid'; DROP TABLE users; --"}
    assert check.sql == 'SELECT COUNT(*) FROM "users" WHERE ("level" NOT IN (%(accepted_0)s, %(accepted_1)s))'


def test_interval_scoping_adds_the_bound_interval():
    check = not_null("songplays", ["user_id"], interval_column="start_time")
    assert '"start_time" >= %(data_interval_start)s AND "start_time" < %(data_interval_end)s' in check.sql
    assert check.name == "not_null: songplays(user_id) in interval"


@pytest.mark.parametrize(
    ("check", "observed", "passes"),
    [
        (custom_sql("a", "SELECT 1", 3, "=="), 3, True),
        (custom_sql("a", "SELECT 1", 3, "!="), 3, False),
        (custom_sql("a", "SELECT 1", 3, "<"), 2, True),
        (custom_sql("a", "SELECT 1", 3, "<="), 4, False),
        (custom_sql("a", "SELECT 1", 3, ">"), 4, True),
        (custom_sql("a", "SELECT 1", 3, ">="), 2, False),
        (custom_sql("a", "SELECT 1", (1, 5), "between"), 5, True),
        (custom_sql("a", "SELECT 1", (1, 5), "between"), 6, False),
        (row_count("songs", minimum=1), 0, False),
        (unique("users", ["user_id"]), None, False),  # no value is never a pass
    ],
)
def test_comparisons(check, observed, passes):
    assert check.passes(observed) is passes


@pytest.mark.parametrize(
    "kwargs",
    [{"comparison": "~="}, {"severity": "fatal"}, {"comparison": "between", "expected": (5, 1)}],
)
def test_invalid_checks_are_refused(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        Check(**{"name": "x", "sql": "SELECT 1", "expected": 0, **kwargs})


def test_identifiers_are_validated():
    from sparkify.sql import InvalidIdentifierError

    with pytest.raises(InvalidIdentifierError):
        relationships("songplays", "user_id; --", "users", "user_id")
    with pytest.raises(InvalidIdentifierError):
        freshness("Songplays", "start_time", max_age_seconds=1)
