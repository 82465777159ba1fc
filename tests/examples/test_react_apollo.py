"""examples/react-apollo in a real browser: the page built from its lockfile, Apollo
Client 4 against a production-mode gateway on another origin, over the emulator.

The page shows flows with their executions (a nested query), pages through them
(`fetchMore` over the Relay connection), opens an execution whose steps come in
a deferred part (multipart, read by Apollo 4's incremental handler), and lists
a flow's executions live over graphql-ws as they start.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Response, expect
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.security.auth import new_key
from gateway.studio import ClientConfig, Transport
from tests.clients.browser import chromium
from tests.support import FAST_RETRY, ensure_packages, gateway_settings, serve

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "react-apollo"
KEY, DIGEST = new_key()
SCOPES = ["flows:read", "executions:read", "executions:write"]
CREATE = """mutation Start($flow: ID!, $to: String!) {
  createExecution(flowSid: $flow, to: $to, from: "+15005550006") { sid } }"""


@dataclass(frozen=True)
class Stack:
    page_url: str
    gateway: str
    flow_sid: str


@pytest.fixture(scope="module")
def built() -> Path:
    """The page's bundle, built by the example's own `npm run build` from its lockfile."""
    ensure_packages(EXAMPLE)
    npm = shutil.which("npm")
    assert npm, "the example needs Node 20 and npm"
    done = subprocess.run(
        [npm, "run", "build"], cwd=EXAMPLE, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return EXAMPLE / "dist"


@pytest.fixture
def stack(built: Path, emulator: Emulator, emulator_url: str) -> Iterator[Stack]:
    page = Starlette(
        routes=[
            Route("/", lambda request: FileResponse(EXAMPLE / "index.html")),
            Mount("/dist", StaticFiles(directory=built)),
        ]
    )
    with serve(page) as page_origin:
        settings = gateway_settings(
            upstream_url=emulator_url,
            environment="production",
            max_cost=500,
            auth="api_keys",
            api_keys=json.dumps([{"name": "page", "sha256": DIGEST, "scopes": SCOPES}]),
            cors_origins=page_origin,
        )
        transport = Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY))
        with serve(create_app(settings, transport=transport)) as gateway:
            flow = emulator.seeded_handles.survey_flow_sid
            query = httpx.QueryParams(gateway=gateway, flow=flow, key=KEY)
            yield Stack(f"{page_origin}/?{query}", gateway, flow)


def test_the_page_runs_a_nested_query_pages_defers_and_subscribes(stack: Stack) -> None:
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        answers: list[Response] = []
        page.on("response", lambda r: answers.append(r) if r.url.endswith("/graphql") else None)
        page.goto(stack.page_url)

        # A nested query: two flows, each with its executions.
        flows = page.get_by_test_id("flow")
        expect(flows).to_have_count(2, timeout=30_000)
        expect(flows.first.get_by_test_id("execution").first).to_be_visible()
        # Pagination: the next page is appended to the same list.
        page.get_by_test_id("more").click()
        expect(flows).to_have_count(4, timeout=30_000)

        # @defer: the execution first, its steps in a later part of a multipart answer.
        page.get_by_test_id("execution").first.click()
        expect(page.get_by_test_id("status")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("steps").locator("li").first).to_be_visible(timeout=30_000)
        kinds = [r.headers.get("content-type", "") for r in answers if r.request.method == "POST"]
        assert any(kind.startswith("multipart/mixed") for kind in kinds), kinds
        sent = [r.request.headers for r in answers if r.request.method == "POST"]
        assert all(h.get("apollographql-client-name") for h in sent), "clientAwareness"

        # A live subscription over graphql-ws: executions appear as they start.
        started = start_until_seen(page, stack)
        expect(page.get_by_test_id("live-execution").filter(has_text=started).first).to_be_visible()
        assert errors == []


def start_until_seen(page: Page, stack: Stack) -> str:
    """Start executions of the watched flow until the page lists one; its SID.

    The subscription's poller may first read the list after an execution started
    (then it is part of what it found there); a later one always shows."""
    live = page.get_by_test_id("live-execution")
    deadline = time.monotonic() + 90
    attempt = 0
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
        while True:
            attempt += 1
            answer = http.post(
                f"{stack.gateway}/graphql",
                json={
                    "query": CREATE,
                    "variables": {"flow": stack.flow_sid, "to": f"+1555010{attempt:04d}"},
                },
            ).json()
            assert "errors" not in answer, answer
            sid = answer["data"]["createExecution"]["sid"]
            try:
                expect(live.filter(has_text=sid).first).to_be_visible(timeout=5_000)
                return str(sid)
            except AssertionError:
                assert time.monotonic() < deadline, "no started execution reached the page"
