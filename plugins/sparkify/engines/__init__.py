"""Warehouse engines: one module per engine behind a small interface, chosen by the connection.

* :mod:`~sparkify.engines.base` — the interface (:class:`Engine`) with the defaults every engine shares;
* :mod:`~sparkify.engines.postgres` — PostgreSQL, the embedded default: streams S3 objects into ``COPY … FROM STDIN``;
* :mod:`~sparkify.engines.redshift` — Amazon Redshift: its own ``COPY … FROM 's3://…'``;
* :mod:`~sparkify.engines.registry` — which engine serves a connection (:data:`~registry.ENGINES`, :func:`resolve`).
"""

from sparkify.engines.base import Engine, RejectionBudgetExceededError, StageRequest, StageResult
from sparkify.engines.postgres import PostgresEngine
from sparkify.engines.redshift import RedshiftEngine
from sparkify.engines.registry import ENGINES, engine_names, resolve

__all__ = [
    "ENGINES",
    "Engine",
    "PostgresEngine",
    "RedshiftEngine",
    "RejectionBudgetExceededError",
    "StageRequest",
    "StageResult",
    "engine_names",
    "resolve",
]
