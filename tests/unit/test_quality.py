"""Quality families compile to one parameterised query each, valid on Redshift and PostgreSQL."""

from __future__ import annotations

import pytest

from sparkify.quality import (
    Check,
    accepted_values,
    custom_sql,
    freshness,
    not_null,
    relationships,
    row_count,
    unique,
    volume_vs_history,
)
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


@pytest.mark.parametrize(
    ("check", "observed", "passes"),
    [
        (custom_sql("a", "SELECT 1", 100, "==", tolerance_pct=5), 95, True),
        (custom_sql("a", "SELECT 1", 100, "==", tolerance_pct=5), 105.5, False),
        (custom_sql("a", "SELECT 1", 100, ">=", tolerance_pct=10), 90, True),
        (custom_sql("a", "SELECT 1", 100, ">=", tolerance_pct=10), 89, False),
        (custom_sql("a", "SELECT 1", 100, "<=", tolerance_pct=10), 110, True),
        (row_count("songplays", minimum=100, maximum=200, tolerance_pct=10), 90, True),
        (row_count("songplays", minimum=100, maximum=200, tolerance_pct=10), 221, False),
    ],
)
def test_comparison_families_take_a_tolerance_in_percent(check, observed, passes):
    assert check.passes(observed) is passes
    assert "±" in check.expectation


def test_volume_vs_history_compares_with_the_median_of_earlier_intervals_and_passes_without_history():
    check = volume_vs_history("songplays", "start_time", periods=4, tolerance_pct=50)
    assert check.expected == -50
    assert check.severity == "warn"
    assert check.passes(-10.0)
    assert not check.passes(-75.0)
    assert check.passes(None)  # fewer than min_history earlier intervals: nothing to compare with
    assert "fewer than 2 earlier intervals" in check.null_passes
    assert check.sql.count("UNION ALL") == 3
    assert "INTERVAL '28 days'" in check.sql
    assert "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY h.n)" in check.sql
    with pytest.raises(ValueError, match="min_history"):
        volume_vs_history("songplays", "start_time", periods=2, min_history=3)
