"""Loading a star-schema table from a SELECT: what ``LoadFactOperator`` and ``LoadDimensionOperator`` run.

In the caller's transaction, :func:`load_table` locks the target table against other writers, materialises the
SELECT into a temporary table (so every count is exact), then applies the mode:

* ``append`` — insert every selected row;
* ``truncate-insert`` — delete every row of the table, then insert (``DELETE``, not ``TRUNCATE``: Redshift's
  ``TRUNCATE`` commits, which would expose an empty table);
* ``upsert`` — of the selected rows, keep those that are new or differ from the table (``EXCEPT``), delete
  the rows with the same key columns, then insert them; re-running an interval leaves the table identical,
  and an interval with nothing new writes nothing. With ``interval_column``, the SELECT is the whole truth for
  the run's interval: rows of the table in the interval whose key it no longer returns (the source was
  re-delivered without them) are removed and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from sparkify.engines import Engine
from sparkify.sql import delete_matching, ident, idents, render, replace_by_key

MODES = ("append", "truncate-insert", "upsert")
SELECTED = "load_selected"  # temp table: every row the SELECT returned
CHANGED = "load_changed"  # temp table: the selected rows that are new or differ from the table (upsert)
VANISHED = "load_vanished"  # temp table: keys of the interval the SELECT no longer returns


def load_table(
    cur: Any,
    engine: Engine,
    table: str,
    select_sql: str,
    params: dict[str, Any],
    mode: str,
    key_columns: Sequence[str],
    interval_column: str | None = None,
) -> dict[str, int]:
    """Apply ``select_sql`` to ``table`` with ``mode`` inside the caller's transaction; return row counts.

    In ``upsert`` mode, selected rows identical to a row already in the table are left alone: an interval with
    nothing new writes nothing.
    """
    target = ident(table, "table")
    cur.execute(engine.lock_table(table))
    cur.execute(render(sql.SQL("CREATE TEMP TABLE {} AS ").format(ident(SELECTED))) + select_sql, params)
    cur.execute(render(sql.SQL("SELECT * FROM {} LIMIT 0").format(ident(SELECTED))))
    columns = [d[0] for d in cur.description]
    counts = {"selected": _count(cur, ident(SELECTED)), "unchanged": 0, "deleted": 0, "removed": 0}
    if mode == "upsert":
        if interval_column:
            counts["removed"] = _remove_vanished(cur, table, key_columns, interval_column, params)
        replaced, written = _upsert(cur, table, columns, key_columns)
        counts["unchanged"] = counts["selected"] - written
    else:
        if mode == "truncate-insert":
            cur.execute(render(sql.SQL("DELETE FROM {}").format(target)))
            counts["deleted"] = max(cur.rowcount, 0)
        cols = idents(columns)
        insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, cols, cols, ident(SELECTED))
        cur.execute(render(insert))
        replaced, written = 0, max(cur.rowcount, 0)
    cur.execute(render(sql.SQL("DROP TABLE {}").format(ident(SELECTED))))
    return {
        "selected": counts["selected"],
        "unchanged": counts["unchanged"],
        "inserted": written - replaced,
        "updated": replaced,
        "deleted": counts["deleted"],
        "removed": counts["removed"],
        "table_rows": _count(cur, target),
    }


def _upsert(cur: Any, table: str, columns: list[str], key_columns: Sequence[str]) -> tuple[int, int]:
    """Write the selected rows that are new or differ from the table, by key; return (replaced, written)."""
    cols = idents(columns)
    changed = sql.SQL("CREATE TEMP TABLE {} AS SELECT {} FROM {} EXCEPT SELECT {} FROM {}").format(
        ident(CHANGED), cols, ident(SELECTED), cols, ident(table, "table")
    )
    cur.execute(render(changed))
    replaced, written = replace_by_key(cur, table, CHANGED, key_columns, columns)
    cur.execute(render(sql.SQL("DROP TABLE {}").format(ident(CHANGED))))
    return replaced, written


def _remove_vanished(
    cur: Any, table: str, key_columns: Sequence[str], interval_column: str, params: dict[str, Any]
) -> int:
    """Delete the interval's rows whose key the SELECT (``SELECTED``) no longer returns; return how many."""
    keys, col = idents(list(key_columns), "key column"), ident(interval_column, "interval column")
    cur.execute(
        render(
            sql.SQL(
                "CREATE TEMP TABLE {} AS SELECT {} FROM {} WHERE {} >= %(data_interval_start)s"
                " AND {} < %(data_interval_end)s EXCEPT SELECT {} FROM {}"
            ).format(ident(VANISHED), keys, ident(table, "table"), col, col, keys, ident(SELECTED))
        ),
        {k: params[k] for k in ("data_interval_start", "data_interval_end")},
    )
    removed = delete_matching(cur, table, VANISHED, key_columns)
    cur.execute(render(sql.SQL("DROP TABLE {}").format(ident(VANISHED))))
    return removed


def _count(cur: Any, table: sql.Composable) -> int:
    cur.execute(render(sql.SQL("SELECT COUNT(*) FROM {}").format(table)))
    return cur.fetchone()[0]
