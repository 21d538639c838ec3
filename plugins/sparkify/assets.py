"""The warehouse tables as Airflow assets: one naming scheme for every DAG that writes or reads them.

A table is the asset ``sparkify.<schema>.<table>`` with the URI ``x-sparkify://warehouse/<schema>/<table>``
(``x-`` marks a project-defined scheme, as Airflow asks) in the asset group ``sparkify_warehouse``. The name
does not say which engine holds the table: the same DAG writes PostgreSQL or Redshift depending on its
connection, which is only known when a task runs (never when the DAG is parsed). Hourly and daily ETL runs
write the same tables, so they produce events of the same assets.

A task that writes a table declares ``outlets=writes(table)``: the table's *changes* alias. The task adds an
event for the table's asset through it only when it changed rows (``record_change``), with the counts as the
event's ``extra``. So the asset views list the runs that changed each table, and a DAG scheduled on the
tables (``sparkify_analytics``) runs after a run that changed them — not after a rerun that found the tables
already right, which a statically declared asset would signal too (Airflow emits those on every success).

A task that changes its table on *every* successful run (the quality task appends its results) declares
``outlets=writes_every_run(table)``: the asset itself, whose event Airflow emits on success, with the same
``extra``.

Airflow 3.3 creates an asset first reached through an alias, and the alias's link to it, with the first event,
and two first events at once collide: so every asset emitted through an alias is also named statically by some
DAG (``reads`` or ``writes_every_run``), and a writer through an alias runs one run at a time (docs/analytics.md,
*Assets*).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset, AssetAlias

GROUP = "sparkify_warehouse"
SCHEME = "x-sparkify"
STAR_SCHEMA = ("songplays", "users", "songs", "artists", "time")


def table_asset(table: str, schema: str = "public") -> Asset:
    """The asset of one warehouse table."""
    return Asset(name=f"sparkify.{schema}.{table}", uri=f"{SCHEME}://warehouse/{schema}/{table}", group=GROUP)


def changes(table: str, schema: str = "public") -> AssetAlias:
    """The alias through which a writer of ``table`` emits its asset's events (only when rows changed)."""
    return AssetAlias(name=f"sparkify.{schema}.{table} changes", group=GROUP)


def writes(table: str, schema: str = "public") -> list[AssetAlias]:
    """``outlets`` for a task that writes ``table``."""
    return [changes(table, schema)]


def writes_every_run(table: str, schema: str = "public") -> list[Asset]:
    """``outlets`` for a task that changes ``table`` whenever it succeeds: the asset, declared statically."""
    return [table_asset(table, schema)]


def reads(*tables: str, schema: str = "public") -> list[Asset]:
    """``inlets`` for a task that reads ``tables``: lineage in the UI, and it keeps those assets active (an asset
    only ever emitted through an alias, and referenced by no DAG, would be orphaned and left out of the asset list)."""
    return [table_asset(t, schema) for t in tables]


def star_schema_assets() -> list[Asset]:
    return [table_asset(t) for t in STAR_SCHEMA]


def record_change(
    context: Mapping[str, Any],
    outlets: list[Any],
    table: str,
    changed_rows: int,
    extra: dict[str, Any],
    log: Any,
    schema: str = "public",
) -> bool:
    """Emit an event for ``table``'s asset through the task's changes alias when ``changed_rows`` > 0.

    Returns whether an event was emitted. When the asset itself is among the outlets (``writes_every_run``),
    Airflow emits its event when the task succeeds; this gives it ``extra``. A task with neither among its
    outlets (a test, or a DAG that does not track assets) emits nothing.
    """
    asset = table_asset(table, schema)
    if asset in outlets:
        context["outlet_events"][asset].extra.update(_json_safe(extra))
        log.info("asset %s: event on success (a declared outlet; %s rows written)", asset.name, f"{changed_rows:,}")
        return True
    alias = next((o for o in outlets if isinstance(o, AssetAlias) and o.name == changes(table, schema).name), None)
    if alias is None:
        return False
    if changed_rows <= 0:
        log.info("asset %s: no event (no rows changed)", asset.name)
        return False
    context["outlet_events"][alias].add(asset, extra=_json_safe(extra))
    log.info("asset %s: event emitted (%s rows changed)", asset.name, f"{changed_rows:,}")
    return True


def _json_safe(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (int, float, str, bool)) or v is None else str(v) for k, v in extra.items()}
