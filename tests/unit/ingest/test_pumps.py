"""The pumps: read-ahead, ordered prefetch, and blocks of whole lines."""

from __future__ import annotations

import pytest

from sparkify.ingest.pumps import line_blocks, prefetch, read_ahead


def test_read_ahead_yields_every_chunk_in_order_and_passes_errors_on():
    assert list(read_ahead(iter([b"a", b"b", b"c"] * 100), depth=2)) == [b"a", b"b", b"c"] * 100

    def broken():
        yield b"x"
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        list(read_ahead(broken()))


def test_prefetch_keeps_input_order():
    assert [r for _, r in prefetch(range(50), lambda i: i * i, workers=4, window=6)] == [i * i for i in range(50)]


def test_line_blocks_cut_at_newlines_and_number_the_first_line():
    chunks = [b"a\nbb\ncc", b"c\ndddd", b"dddd\ne\n", b"f"]
    blocks = list(line_blocks(chunks, size=4))
    assert b"".join(b for _, b in blocks) == b"".join(chunks)
    assert all(b.endswith(b"\n") for _, b in blocks[:-1])
    for first, block in blocks:
        assert b"".join(chunks).split(b"\n")[first - 1] == block.split(b"\n")[0]
