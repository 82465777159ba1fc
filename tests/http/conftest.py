"""The Node client packages (tests/clients), installed once per run when missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[1] / "clients"


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """tests/clients with its locked npm packages: `npm ci` there unless already done."""
    if not (CLIENTS / "node_modules").is_dir():
        npm = shutil.which("npm")
        assert npm is not None, "the client tests need Node 20+ and npm on PATH"
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=CLIENTS,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return CLIENTS


def run_node(clients: Path, script: str, *args: str) -> str:
    """Run a script of tests/clients with Node; its standard output."""
    node = shutil.which("node")
    assert node is not None, "the client tests need Node 20+ on PATH"
    done = subprocess.run(
        [node, script, *args], cwd=clients, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout
