"""Headless Debian chromium through Python playwright (its own browser download is not reachable offline)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless browser, closed at the end; fails (not skips) when chromium is missing."""
    from playwright.sync_api import expect, sync_playwright

    # The suite keeps both cores busy: a page of the api-server may take longer than playwright's 5 s default.
    expect.set_options(timeout=30_000)
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
            expect.set_options(timeout=5_000)
