"""Run the ETL through Airflow for every interval of a window, then print the warehouse's state.

    python -m tools.demo --start 2018-11-15T00 --end 2018-11-16T00 [--keep-warehouse] [--hourly]

A window of whole days runs ``sparkify_etl_daily`` (one run per day: history loads fastest by day); any other
window runs ``sparkify_etl`` hour by hour (``--hourly`` forces that). Both give the same tables. Each interval
is one DAG run (``DAG.test``: the same in-process runner as ``airflow dags test``, without a new
interpreter per hour) on the local stack, ``--parallel`` runs at a time (intervals are independent and
concurrency-safe); the bucket must be seeded first (``make seed``). Unless
``--keep-warehouse`` is given, the Sparkify tables are dropped first so the counts describe this window only.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context

from tools.paths import ROOT, plugins_on_path
from tools.progress import enabled as progress_shown
from tools.progress import progress
from tools.stack import env
from tools.targets import SettingsError, enter_local

TABLES = ["staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time", "load_errors"]
BOOKKEEPING = ["staged_objects", "publications", "source_observations"]  # dropped with the tables, never counted
VIEWS = ["published_songplays"]  # dropped first: a view keeps its tables from being dropped


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
        counts["songplays published"] = conn.execute("SELECT COUNT(*) FROM published_songplays").fetchone()[0]
    return counts


def drop_tables(dsn: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn) as conn:
        for view in VIEWS:
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(view)))
        for table in TABLES + BOOKKEEPING:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def load_dag(daily: bool):
    spec = importlib.util.spec_from_file_location("sparkify_etl", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.daily_dag if daily else module.dag


_DAG = None


def run_interval(logical_date: datetime, verbose: bool, daily: bool) -> tuple[datetime, str]:
    """One DAG run (in a worker process, which loads the DAG once)."""
    global _DAG
    if _DAG is None:
        if not verbose:
            os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
        plugins_on_path()
        _DAG = load_dag(daily)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    run = _DAG.test(logical_date=logical_date)
    return logical_date, str(getattr(run, "state", "unknown"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--start", type=hour, required=True, help="first hour, e.g. 2018-11-15T00 (UTC)")
    p.add_argument("--end", type=hour, required=True, help="end hour, exclusive")
    p.add_argument("--keep-warehouse", action="store_true")
    p.add_argument("--verbose", action="store_true", help="show Airflow's task logs")
    p.add_argument("--parallel", type=int, default=2, help="DAG runs at a time (intervals are independent)")
    p.add_argument("--hourly", action="store_true", help="run sparkify_etl hour by hour even for whole days")
    a = p.parse_args()
    if a.end <= a.start:
        sys.exit("--end must be after --start")
    try:
        enter_local(env())  # the workers inherit it
    except SettingsError as exc:
        sys.exit(f"refused: {exc}")
    dsn = os.environ["WAREHOUSE_DSN"]
    if not a.keep_warehouse:
        drop_tables(dsn)
    daily = not a.hourly and a.start.hour == 0 and a.end.hour == 0
    dag_id, step = ("sparkify_etl_daily", timedelta(days=1)) if daily else ("sparkify_etl", timedelta(hours=1))
    runs = int((a.end - a.start) / step)
    print(
        f"running {dag_id} for {runs} {'daily' if daily else 'hourly'} intervals "
        f"[{a.start:%Y-%m-%dT%H:%MZ}, {a.end:%Y-%m-%dT%H:%MZ}) in {a.parallel} process(es)"
    )
    started = time.monotonic()
    dates = [a.start + step * i for i in range(runs)]
    # The first interval alone: it creates the tables and stages the song catalogue once.
    with (
        ProcessPoolExecutor(max_workers=a.parallel, mp_context=get_context("spawn")) as pool,
        progress(f"{dag_id} runs", runs, "runs") as advance,
    ):
        first = pool.submit(run_interval, dates[0], a.verbose, daily).result()
        done = [first]
        advance()
        for result in pool.map(run_interval, dates[1:], [a.verbose] * (runs - 1), [daily] * (runs - 1), chunksize=1):
            done.append(result)
            advance()
            if not progress_shown() and (len(done) % (1 if daily else 24) == 0 or len(done) == runs):
                print(f"  {len(done)}/{runs} runs done, {time.monotonic() - started:.0f} s")
    failed = [(d, state) for d, state in done if "success" not in state]
    print(f"\n{runs} runs in {time.monotonic() - started:.1f} s; {runs - len(failed)} succeeded")
    print("\nwarehouse row counts:")
    for table, count in warehouse_counts(dsn).items():
        print(f"  {table:<24}{count:>10,}")
    print(
        f"\ndata quality: run_quality_checks passed and the interval was published in {runs - len(failed)} of "
        f"{runs} runs"
    )
    for logical_date, state in failed:
        print(f"  FAILED run {logical_date:%Y-%m-%dT%H:%MZ}: {state} (re-run with --verbose to see task logs)")
    print(
        "\nnext:\n"
        "  make report                    the analytics questions answered, as an HTML page\n"
        "  make airflow                   the web UI on this warehouse: trigger, backfill, read task logs\n"
        '  eval "$(make -s env)"; psql "$WAREHOUSE_DSN"   the tables themselves\n'
        "  make down                      stop the local stack"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
