"""Progress for long work: a live line on a terminal (rich), nothing at all when output is not a terminal.

    with progress("seeding s3://sparkify", total=len(files), unit="objects") as advance:
        for f in files:
            upload(f)
            advance()

    with waiting("starting Airflow") as status:
        status("waiting for the api-server")   # optional: what it waits on now

The lines are drawn on stderr and removed when the work ends, so what a command prints (its result) is all that
stays; ``print`` while a line is shown goes above it. Counted work shows done/total, the elapsed time and an
estimate of what is left; a wait shows a spinner and the elapsed time. Work inside other work (seeding inside a
benchmark phase) adds a line under it. ``SPARKIFY_PROGRESS=0`` turns it off on a terminal, ``=1`` forces it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_shown: Any = None  # the rich Progress on screen, shared by nested work


def enabled() -> bool:
    setting = os.environ.get("SPARKIFY_PROGRESS", "")
    if setting in ("0", "1"):
        return setting == "1"
    return sys.stderr.isatty()


@contextmanager
def progress(description: str, total: int | None, unit: str = "") -> Iterator[Callable[..., None]]:
    """``advance(n=1)`` for each unit of work done: done/total, elapsed and an estimate of what is left."""
    with _task(description, total, unit) as update:
        yield lambda n=1: update(advance=n)


@contextmanager
def waiting(description: str) -> Iterator[Callable[[str], None]]:
    """``status(text)`` to say what is awaited now: a spinner with the elapsed time while it lasts."""
    with _task(description, None, "") as update:
        yield lambda text: update(description=f"{description}: {text}")


@contextmanager
def _task(description: str, total: int | None, unit: str) -> Iterator[Callable[..., None]]:
    global _shown
    if not enabled():
        yield lambda **_: None
        return
    owner = _shown is None
    if owner:
        _shown = _make_progress()
        _shown.start()
    bar = _shown
    task = bar.add_task(description, total=total, unit=unit)
    try:
        yield lambda **changes: bar.update(task, **changes)
    finally:
        bar.remove_task(task)
        if owner:
            bar.stop()
            _shown = None


def _make_progress() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Counted(ProgressColumn):
        """``column`` for counted work, nothing for a wait."""

        def __init__(self, column: ProgressColumn, prefix: str = "") -> None:
            super().__init__()
            self.column, self.prefix = column, prefix

        def render(self, task: Any) -> Any:
            if task.total is None:
                return Text("")
            rendered = self.column.render(task)
            return Text(self.prefix) + rendered if self.prefix else rendered

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        Counted(BarColumn()),
        Counted(MofNCompleteColumn()),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        Counted(TimeRemainingColumn(), "left "),
        console=Console(stderr=True, force_terminal=True),
        transient=True,
        redirect_stdout=sys.stdout.isatty(),  # prints go above the lines; into a file or pipe they go as they are
        redirect_stderr=False,
    )
