"""A @defer answer as Apollo Client reads it: its HttpLink against the gateway on a socket.

The client is the real library (tests/clients/package-lock.json pins it); it
chooses the Accept header, reads the multipart body and merges the parts, so
the gateway's incremental format is checked by code this project did not write.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.studio import ClientConfig, Transport
from tests.support import FAST_RETRY, gateway_settings, plain, serve

CLIENTS = Path(__file__).parent

EXECUTION = """query Execution($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  sid status dateCreated
  ... @defer { steps(first: 5) { nodes { sid name transitionedTo } } } } }"""


def node_packages() -> None:
    """Install the pinned client packages once (node_modules is not committed)."""
    if not (CLIENTS / "node_modules" / "@apollo" / "client").is_dir():
        npm = shutil.which("npm")
        assert npm, "Node 20 and npm are needed for the client tests"
        subprocess.run([npm, "ci", "--prefix", str(CLIENTS)], check=True, timeout=300)


@pytest.fixture
def gateway_url(emulator_url: str) -> Iterator[str]:
    transport = Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY))
    app = create_app(gateway_settings(upstream_url=emulator_url), transport=transport)
    with serve(app) as url:
        yield url


def apollo(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """What Apollo Client's HttpLink delivered for one operation (see defer.mjs)."""
    node_packages()
    node = shutil.which("node")
    assert node, "Node 20 is needed for the client tests"
    done = subprocess.run(
        [
            node,
            str(CLIENTS / "defer.mjs"),
            json.dumps({"url": url, "query": query, "variables": variables}),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=CLIENTS,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


async def test_apollo_client_reads_the_deferred_parts_and_merges_the_plain_answer(
    gateway_url: str, emulator: Emulator
) -> None:
    flow, execution = emulator.seeded_handles.ended_execution
    variables = {"f": flow, "e": execution}
    async with httpx.AsyncClient(base_url=gateway_url) as http:
        whole = (
            await http.post(
                "/graphql",
                json={"query": plain(EXECUTION), "variables": variables},
            )
        ).json()

    got = apollo(f"{gateway_url}/graphql", EXECUTION, variables)

    assert "deferSpec=20220824" in got["accept"], "Apollo asked for the multipart answer"
    first, *later = got["results"]
    assert len(got["results"]) > 1, "the answer came in parts"
    assert first["hasNext"] is True and "steps" not in first["data"]["execution"]
    assert later[-1]["hasNext"] is False
    assert got["merged"] == whole["data"]
    assert got["merged"]["execution"]["steps"]["nodes"]
