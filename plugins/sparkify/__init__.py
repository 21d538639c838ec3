"""Sparkify's warehouse operators and what they run (importable from Airflow's plugins folder).

* :mod:`sparkify.operators` — Airflow adapters only: parameters, templating, validation, logging;
* what the operators run, engine-neutral: :mod:`~sparkify.staging` (S3 objects → a staging table),
  :mod:`~sparkify.loading` (a SELECT → a star-schema table, by mode), :mod:`~sparkify.schema` (the DDL),
  :mod:`~sparkify.quality_results` (running checks, storing and formatting results), :mod:`~sparkify.publication`
  (the publication ledger), :mod:`sparkify.analytics` (the questions' tables and the report);
* :mod:`sparkify.engines` — one module per warehouse engine (PostgreSQL, Redshift), chosen by the connection;
* :mod:`sparkify.ingest` — engine-neutral ingest: S3, the staging ledger, source contracts, JSON mapping and
  coercion, encoders, pumps;
* :mod:`sparkify.quality`, :mod:`sparkify.warehouse_checks` — data-quality checks as data, and the DAG's checks;
* :mod:`sparkify.assets`, :mod:`sparkify.lineage`, :mod:`sparkify.alerts` — asset events, OpenLineage, alerts;
* :mod:`sparkify.sql`, :mod:`sparkify.connections`, :mod:`sparkify.runtime`, :mod:`sparkify.settings`,
  :mod:`sparkify.timetables` — what every module shares.
"""
