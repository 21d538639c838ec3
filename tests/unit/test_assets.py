"""The asset naming scheme and the change-only emission of asset events."""

from __future__ import annotations

import logging

from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors

from sparkify import assets

LOG = logging.getLogger(__name__)


def test_one_naming_scheme_for_every_table():
    a = assets.table_asset("songplays")
    assert (a.name, a.uri, a.group) == (
        "sparkify.public.songplays",
        "x-sparkify://warehouse/public/songplays",
        "sparkify_warehouse",
    )
    assert assets.table_asset("top_songs", "analytics").uri == "x-sparkify://warehouse/analytics/top_songs"
    assert [a.name for a in assets.star_schema_assets()] == [
        f"sparkify.public.{t}" for t in ("songplays", "users", "songs", "artists", "time")
    ]
    assert assets.writes("users") == [AssetAlias(name="sparkify.public.users changes", group="sparkify_warehouse")]


def _events(outlets, table, changed):
    events = OutletEventAccessors()
    emitted = assets.record_change({"outlet_events": events}, outlets, table, changed, {"inserted": changed}, LOG)
    return emitted, [e for accessor in events._dict.values() for e in accessor.asset_alias_events]


def test_an_event_only_when_rows_changed():
    emitted, events = _events(assets.writes("songplays"), "songplays", 12)
    assert emitted
    assert [(e.dest_asset_key.name, e.extra) for e in events] == [("sparkify.public.songplays", {"inserted": 12})]
    assert _events(assets.writes("songplays"), "songplays", 0) == (False, [])


def test_no_event_without_the_tables_alias_among_the_outlets():
    assert _events([], "songplays", 5) == (False, [])
    assert _events(assets.writes("users"), "songplays", 5) == (False, [])  # another table's alias
    assert _events([Asset("x-other://a")], "songplays", 5) == (False, [])


def test_extra_is_json():
    from datetime import datetime

    events = OutletEventAccessors()
    assets.record_change(
        {"outlet_events": events},
        assets.writes("time"),
        "time",
        1,
        {"data_interval_start": datetime(2018, 11, 1), "rows": 1},
        LOG,
    )
    (accessor,) = events._dict.values()
    assert accessor.asset_alias_events[0].extra == {"data_interval_start": "2018-11-01 00:00:00", "rows": 1}


def test_a_declared_outlet_gets_the_extra_of_its_event_on_success():
    events = OutletEventAccessors()
    outlets = assets.writes_every_run("quality_results")
    assert outlets == [assets.table_asset("quality_results")]
    assert assets.record_change({"outlet_events": events}, outlets, "quality_results", 27, {"checks": 27}, LOG)
    (accessor,) = events._dict.values()
    assert (accessor.key.name, accessor.extra, accessor.asset_alias_events) == (
        "sparkify.public.quality_results",
        {"checks": 27},
        [],
    )
