"""Which engine serves a warehouse connection.

Engines register here (the built-in ones in :mod:`sparkify.engines`). For a connection, the engine is

1. the one its extra names — ``{"engine": "redshift"}`` (``"dialect"`` is read too, the older name); else
2. the first registered engine that :meth:`~sparkify.engines.base.Engine.claims` it, newest registration first,
   so an engine registered later can claim connections before the built-in ones.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from sparkify.connections import get_connection
from sparkify.engines.base import Engine

_ENGINES: dict[str, type[Engine]] = {}


class UnknownEngineError(AirflowFailException):
    """No registered engine serves the connection: a configuration error, not worth retrying."""


def register(engine: type[Engine]) -> type[Engine]:
    """Add an engine (usable as a class decorator). Registering a name again replaces the earlier engine."""
    if not engine.name:
        raise ValueError(f"{engine.__name__} has no name")
    _ENGINES.pop(engine.name, None)
    _ENGINES[engine.name] = engine
    return engine


def unregister(name: str) -> None:
    _ENGINES.pop(name, None)


def registered() -> list[str]:
    """Engine names, in the order they are asked to claim a connection."""
    return list(reversed(_ENGINES))


def engine_class_for(conn: Any) -> type[Engine]:
    """The engine class that serves an Airflow connection (see the module docstring)."""
    extra = conn.extra_dejson or {}
    declared = str(extra.get("engine") or extra.get("dialect") or "").lower()
    if declared:
        if declared not in _ENGINES:
            raise UnknownEngineError(
                f"connection {conn.conn_id!r}: extra 'engine' is {declared!r}; registered engines: {registered()}"
            )
        return _ENGINES[declared]
    for name in registered():
        if _ENGINES[name].claims(conn):
            return _ENGINES[name]
    raise UnknownEngineError(
        f"connection {conn.conn_id!r} (type {conn.conn_type!r}) is served by no registered engine "
        f'{registered()}; name one in its extra, e.g. {{"engine": "postgres"}}'
    )


def resolve(conn_id: str, log: Any = None) -> Engine:
    """The engine for connection ``conn_id``, with the provider hook that talks to it."""
    engine = engine_class_for(get_connection(conn_id))
    return engine(conn_id, engine.make_hook(conn_id), log)
