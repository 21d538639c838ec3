"""Sparkify's warehouse operators and what they share (importable from Airflow's plugins folder).

* :mod:`sparkify.operators` — the Airflow adapters (stage, load, quality, schema);
* :mod:`sparkify.engines` — one module per warehouse engine (PostgreSQL, Redshift), chosen by the connection;
* :mod:`sparkify.ingest` — engine-neutral staging: S3, bookkeeping, JSON mapping and coercion, encoders, pumps;
* :mod:`sparkify.sql`, :mod:`sparkify.connections`, :mod:`sparkify.runtime` — mechanics every operator shares;
* :mod:`sparkify.quality`, :mod:`sparkify.warehouse_checks` — data-quality checks as data, and the DAG's checks.
"""
