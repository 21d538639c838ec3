"""Warehouse engines: one module per engine behind a small interface, chosen by the connection.

* :mod:`~sparkify.engines.base` — the interface (:class:`Engine`) with the defaults every engine shares;
* :mod:`~sparkify.engines.registry` — which engine serves a connection (:func:`resolve`);
* :mod:`~sparkify.engines.postgres` — PostgreSQL, the embedded default: streams S3 objects into ``COPY … FROM STDIN``;
* :mod:`~sparkify.engines.redshift` — Amazon Redshift: its own ``COPY … FROM 's3://…'``.

Adding an engine is one module with an :class:`Engine` subclass and a :func:`register` call.
"""

from sparkify.engines.base import Engine, RejectionBudgetExceededError, StageRequest, StageResult
from sparkify.engines.postgres import PostgresEngine
from sparkify.engines.redshift import RedshiftEngine
from sparkify.engines.registry import register, registered, resolve, unregister

register(PostgresEngine)
register(RedshiftEngine)

__all__ = [
    "Engine",
    "PostgresEngine",
    "RedshiftEngine",
    "RejectionBudgetExceededError",
    "StageRequest",
    "StageResult",
    "register",
    "registered",
    "resolve",
    "unregister",
]
