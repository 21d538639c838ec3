"""Pumps that keep the network, the parser and the database busy at once, with bounded memory.

* :func:`prefetch` runs a function over items on a few threads, yielding results in input order;
* :func:`read_ahead` reads a byte stream on a background thread a few chunks ahead;
* :func:`line_blocks` cuts a byte stream into blocks of whole lines, numbering their first lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def line_blocks(chunks: Iterable[bytes], size: int) -> Iterator[tuple[int, bytes]]:
    """``(number of the first line, block)``: a byte stream cut into blocks of whole lines of about ``size``."""
    parts: list[bytes] = []
    held = 0
    first_line = 1
    for chunk in chunks:
        parts.append(chunk)
        held += len(chunk)
        if held < size:
            continue
        data = b"".join(parts)
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a block: keep reading
            parts = [data]
            continue
        yield first_line, data[:cut]
        first_line += data.count(b"\n", 0, cut)
        parts = [data[cut:]] if cut < len(data) else []
        held = len(data) - cut
    if held:
        yield first_line, b"".join(parts)


def read_ahead(chunks: Iterable[bytes], depth: int = 4) -> Iterator[bytes]:
    """The chunks of a stream, read by a background thread up to ``depth`` chunks ahead.

    Network reads release the GIL, so downloading the next megabytes overlaps parsing the current ones; memory
    stays bounded by ``depth`` chunks.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def pump() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                q.put(chunk)
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=pump, name="s3-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def prefetch(items: Iterable[Any], fetch: Callable[[Any], Any], workers: int, window: int) -> Iterator[tuple]:
    """``(item, fetch(item))`` in input order, with up to ``window`` fetches in flight on ``workers`` threads."""
    pending: list = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-fetch") as pool:
        for item in items:
            pending.append((item, pool.submit(fetch, item)))
            if len(pending) >= window:
                head, future = pending.pop(0)
                yield head, future.result()
        for head, future in pending:
            yield head, future.result()
