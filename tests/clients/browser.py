"""A real Chromium (Debian's, `apt-get install chromium`), driven by Playwright.

Playwright's own browser downloads are not used: `.ci/run` installs Debian's
chromium, and a missing one fails the test with what to do, never skips it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, and nothing of its own on the network: every request a test sees is the page's.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    path = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if path is None:
        pytest.fail("the browser tests need Chromium: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(path), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
