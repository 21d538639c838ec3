"""Run sparkify_etl through Airflow for every hour of a window, then print the warehouse's state.

    python -m tools.demo --start 2018-11-15T00 --end 2018-11-16T00 [--keep-warehouse]

Each hour is one DAG run (``DAG.test``: the same in-process runner as ``airflow dags test``, without a new
interpreter per hour) on the local stack; the bucket must be seeded first (``make seed``). Unless
``--keep-warehouse`` is given, the Sparkify tables are dropped first so the counts describe this window only.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from tools.stack import ROOT, env

TABLES = ["staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time", "load_errors"]


def hour(text: str) -> datetime:
    value = datetime.fromisoformat(text if len(text) > 13 else text + ":00")
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).replace(minute=0, second=0, microsecond=0)


def warehouse_counts(dsn: str) -> dict[str, int]:
    import psycopg
    from psycopg import sql

    counts = {}
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            counts[table] = conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
        counts["songplays with a song"] = conn.execute("SELECT COUNT(song_id) FROM songplays").fetchone()[0]
    return counts


def drop_tables(dsn: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def load_dag():
    spec = importlib.util.spec_from_file_location("sparkify_etl", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--start", type=hour, required=True, help="first hour, e.g. 2018-11-15T00 (UTC)")
    p.add_argument("--end", type=hour, required=True, help="end hour, exclusive")
    p.add_argument("--keep-warehouse", action="store_true")
    p.add_argument("--verbose", action="store_true", help="show Airflow's task logs")
    a = p.parse_args()
    if a.end <= a.start:
        sys.exit("--end must be after --start")
    for key, value in env().items():
        os.environ[key] = value
    sys.path[:0] = [str(ROOT / "plugins")]
    dsn = os.environ["WAREHOUSE_DSN"]
    if not a.keep_warehouse:
        drop_tables(dsn)
    if not a.verbose:
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    dag = load_dag()
    hours = int((a.end - a.start) / timedelta(hours=1))
    print(f"running {dag.dag_id} for {hours} hourly intervals [{a.start:%Y-%m-%dT%H:%MZ}, {a.end:%Y-%m-%dT%H:%MZ})")
    started = time.monotonic()
    failed = []
    for i in range(hours):
        logical_date = a.start + timedelta(hours=i)
        logging.getLogger().setLevel(logging.WARNING if not a.verbose else logging.INFO)
        run = dag.test(logical_date=logical_date)
        state = str(getattr(run, "state", "unknown"))
        if "success" not in state:
            failed.append((logical_date, state))
        done = i + 1
        if done % 6 == 0 or done == hours:
            print(f"  {done}/{hours} runs done, {len(failed)} failed, {time.monotonic() - started:.0f} s")
    print(f"\n{hours} runs in {time.monotonic() - started:.1f} s; {hours - len(failed)} succeeded")
    print("\nwarehouse row counts:")
    for table, count in warehouse_counts(dsn).items():
        print(f"  {table:<24}{count:>10,}")
    print(f"\ndata quality: run_quality_checks passed in {hours - len(failed)} of {hours} runs")
    for logical_date, state in failed:
        print(f"  FAILED run {logical_date:%Y-%m-%dT%H:%MZ}: {state} (re-run with --verbose to see task logs)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
