"""Which engine serves a warehouse connection: an explicit, ordered list of engines and a claim loop.

For a connection, the engine is

1. the one its extra names — ``{"engine": "redshift"}``; else
2. the first engine of :data:`ENGINES` that :meth:`~sparkify.engines.base.Engine.claims` it. The order is the
   list's: Redshift comes first because a ``postgres`` connection to a ``*.redshift.amazonaws.com`` host is
   Redshift's, and PostgreSQL claims every other ``postgres`` connection.

Adding an engine is one module with an :class:`~sparkify.engines.base.Engine` subclass and its place in
:data:`ENGINES` (tests substitute the tuple).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from sparkify.connections import get_connection
from sparkify.engines.base import Engine
from sparkify.engines.postgres import PostgresEngine
from sparkify.engines.redshift import RedshiftEngine

ENGINES: tuple[type[Engine], ...] = (RedshiftEngine, PostgresEngine)


class UnknownEngineError(AirflowFailException):
    """No engine serves the connection: a configuration error, not worth retrying."""


def engine_names() -> list[str]:
    """The engines' names, in the order they are asked to claim a connection."""
    return [engine.name for engine in ENGINES]


def engine_class_for(conn: Any) -> type[Engine]:
    """The engine class that serves an Airflow connection (see the module docstring)."""
    declared = str((conn.extra_dejson or {}).get("engine") or "").lower()
    if declared:
        for engine in ENGINES:
            if engine.name == declared:
                return engine
        raise UnknownEngineError(
            f"connection {conn.conn_id!r}: extra 'engine' is {declared!r}; engines: {engine_names()}"
        )
    for engine in ENGINES:
        if engine.claims(conn):
            return engine
    raise UnknownEngineError(
        f"connection {conn.conn_id!r} (type {conn.conn_type!r}) is served by no engine {engine_names()}; "
        'name one in its extra, e.g. {"engine": "postgres"}'
    )


def resolve(conn_id: str, log: Any = None) -> Engine:
    """The engine for connection ``conn_id``, with the provider hook that talks to it."""
    engine = engine_class_for(get_connection(conn_id))
    return engine(conn_id, engine.make_hook(conn_id), log)
