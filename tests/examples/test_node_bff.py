"""examples/node-bff-urql: a Node backend-for-frontend on urql sending persisted
queries only, against a gateway that runs nothing but its safelist.

The whole path a team follows: the example writes its persisted-query manifest
(`manifest.mjs`), `studio-gateway safelist build` turns it into the safelist,
a gateway loads it, and the BFF answers its routes from the emulator's data
through the gateway, each request a GET carrying only a hash.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.security.auth import new_key
from gateway.studio import ClientConfig, Transport
from tests.support import (
    FAST_RETRY,
    ensure_packages,
    free_port,
    gateway_settings,
    serve,
    until_blocking,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node-bff-urql"
KEY, DIGEST = new_key()


def node(*args: str, cwd: Path = EXAMPLE) -> str:
    done = subprocess.run(
        [shutil.which("node") or "node", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def safelist(tmp_path: Path) -> Path:
    ensure_packages(EXAMPLE)
    manifest = tmp_path / "persisted-query-manifest.json"
    node("manifest.mjs", str(manifest))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "safelist",
            "build",
            str(manifest),
            "-o",
            str(tmp_path / "safelist.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    return tmp_path / "safelist.json"


@pytest.fixture
def gateway(safelist: Path, emulator_url: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A production gateway running only the safelist; what each GraphQL request sent."""
    settings = gateway_settings(
        upstream_url=emulator_url,
        environment="production",
        max_cost=500,
        auth="api_keys",
        api_keys=json.dumps(
            [{"name": "bff", "sha256": DIGEST, "scopes": ["flows:read", "executions:read"]}]
        ),
        safelist_file=str(safelist),
    )
    app = create_app(
        settings, transport=Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY))
    )
    sent: list[dict[str, Any]] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql":
            query = parse_qs(scope["query_string"].decode())
            sent.append({"method": scope["method"], **{k: v[0] for k, v in query.items()}})
        await app(scope, receive, send)

    with serve(recording) as url:
        yield url, sent


@pytest.fixture
def bff(gateway: tuple[str, list[dict[str, Any]]], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "GATEWAY_URL": gateway[0], "GATEWAY_API_KEY": KEY, "PORT": str(port)}
    log = tmp_path / "bff.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [shutil.which("node") or "node", "bff.mjs"],
            cwd=EXAMPLE,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def started() -> bool:
            assert process.poll() is None, log.read_text()
            return "BFF on" in log.read_text()

        until_blocking(started, 30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_bff_answers_from_the_gateway_with_persisted_queries_only(
    bff: str, gateway: tuple[str, list[dict[str, Any]]], emulator: Emulator
) -> None:
    flows = httpx.get(f"{bff}/flows", timeout=30)
    assert flows.status_code == 200, flows.text
    listed = flows.json()
    seeded = emulator.account(emulator.account_sid).flows
    assert {flow["sid"] for flow in listed} == set(seeded)
    assert all(flow["latestExecution"]["status"] in ("ACTIVE", "ENDED") for flow in listed)

    ended = emulator.seeded_handles.ended_execution
    detail = httpx.get(f"{bff}/flows/{ended.flow_sid}/executions/{ended.execution_sid}", timeout=30)
    assert detail.status_code == 200, detail.text
    execution = detail.json()
    assert execution["sid"] == ended.execution_sid and execution["status"] == "ENDED"
    assert execution["steps"] and all(step["name"] for step in execution["steps"])

    missing = httpx.get(f"{bff}/flows/{ended.flow_sid}/executions/FN{'0' * 32}", timeout=30)
    assert missing.status_code == 404 and missing.json()["codes"] == ["NOT_FOUND"]

    _, sent = gateway
    assert len(sent) == 3
    for request in sent:
        # A GET with the hash alone: never the document's text.
        assert request["method"] == "GET" and "query" not in request, request
        assert json.loads(request["extensions"])["persistedQuery"]["sha256Hash"]
