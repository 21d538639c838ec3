"""Build the analytics report from the local warehouse: the ``analytics`` tables, then one HTML page.

    python -m tools.report [--out .local/reports/sparkify-report.html]     # what `make report` runs

The same code as the ``sparkify_analytics`` DAG (``sparkify.analytics``), without Airflow running: run
``make demo`` first so the warehouse has plays. Prints where the page is and what it says in numbers.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tools.paths import LOCAL, plugins_on_path
from tools.stack import env
from tools.targets import SettingsError, enter_local

DEFAULT_OUT = LOCAL / "reports" / "sparkify-report.html"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args()
    try:
        enter_local(env())  # the local warehouse, whatever the shell exports
    except SettingsError as exc:
        sys.exit(f"refused: {exc}")
    plugins_on_path()
    started = time.monotonic()
    from sparkify import engines, publication
    from sparkify.analytics import report, tables
    from sparkify.runtime import utc_now

    log = logging.getLogger("sparkify.report")
    engine = engines.resolve("redshift", log)
    coverage = tables.coverage(engine)
    if not coverage["songplays"]:
        sys.exit("the warehouse has no published plays yet: run `make demo` first (it loads the local warehouse)")
    built = tables.build_tables(engine)
    answers = tables.read_answers(engine)
    html = report.render(
        answers,
        coverage,
        built_at=utc_now(),
        built_by="make report",
        source_runs=[],
        engine=engine.name,
        publication=publication.status(engine),
    )
    path = report.write_local(html, a.out.resolve())
    k = report.kpis(answers, coverage)
    rows = ", ".join(f"{name} {v['rows']:,}" for name, v in built.items())
    print(
        f"analytics tables rebuilt (rows: {rows}) and the report "
        f"written in {time.monotonic() - started:.1f} s:\n  {path}  ({path.stat().st_size / 1e6:.1f} MB, opens "
        f"offline)\n  {k['plays']:,} plays from {coverage['first_play']:%Y-%m-%d} to {coverage['last_play']:%Y-%m-%d}; "
        f"paid share {k['paid_share_pct']:.1f}%; resolved {k['resolved_pct']:.1f}%; top song "
        f"{k['top_song_title']!r} ({k['top_song_plays']:,} plays)"
    )


if __name__ == "__main__":
    main()
