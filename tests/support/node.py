"""Run the Node client scripts of tests/clients (and the examples/), with the packages
each folder's lockfile pins.

`make test` installs them first (`npm ci`); a test run on its own installs them
when `node_modules` is missing or older than the lockfile, and fails with a
message saying what to do when it cannot. Nothing here is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
#: Written in node_modules after `npm ci` succeeds, here and by the Makefile.
STAMP = ".installed"


def _installed(folder: Path) -> bool:
    stamp = folder / "node_modules" / STAMP
    if not stamp.exists():
        return False
    stamped = stamp.stat().st_mtime
    return all(
        stamped >= (folder / name).stat().st_mtime for name in ("package.json", "package-lock.json")
    )


def ensure_packages(folder: Path = CLIENTS) -> None:
    """`npm ci` in `folder` unless its locked packages are already installed."""
    if _installed(folder):
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the client tests need Node 20 and npm on PATH (apt-get install nodejs npm)")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`npm ci` in {folder} failed; run it by hand to see why (is the npm registry "
            f"reachable?):\n{result.stderr[-2000:]}"
        )
    (folder / "node_modules" / STAMP).touch()


def run_node(script: str, *args: str, timeout: float = 120, folder: Path = CLIENTS) -> Any:
    """Run `node <script> <args>` in `folder` (tests/clients); its stdout, parsed as JSON."""
    ensure_packages(folder)
    node = shutil.which("node")
    if node is None:
        pytest.fail("the client tests need Node 20 on PATH")
    result = subprocess.run(
        [node, script, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"node {script} exited with {result.returncode}:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout)
