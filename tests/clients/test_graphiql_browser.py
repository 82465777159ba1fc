"""GraphiQL in a real browser, offline, under its Content-Security-Policy.

The page loads, the editor renders, the documentation explorer lists the root
types from the gateway's introspection, the default query runs, both dialogs
open: and no request leaves the gateway's origin, and the browser reports no
policy violation and no script error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, expect
from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.app import create_app
from gateway.emulator import Emulator
from tests.clients.browser import chromium
from tests.support import gateway_settings, serve

#: Collects what the page's Content-Security-Policy refused, from the page itself.
VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@dataclass(frozen=True)
class Served:
    origin: str
    #: Where the gateway is, below the origin: "" or a proxy's prefix.
    prefix: str

    @property
    def endpoint(self) -> str:
        return f"{self.origin}{self.prefix}/graphql"


@pytest.fixture(params=["", "/studio"], ids=["at-the-root", "under-a-root-path"])
def served(request: pytest.FixtureRequest, emulator_url: str) -> Iterator[Served]:
    """The demo-like gateway (development mode: GraphiQL on) on a socket."""
    gateway = create_app(
        gateway_settings(upstream_url=emulator_url, environment="development", max_cost=500)
    )
    prefix: str = request.param
    app = gateway
    if prefix:
        # As behind a proxy that mounts the gateway at a path: the app sees the root path.
        @asynccontextmanager
        async def lifespan(_: Starlette) -> Any:
            async with gateway.router.lifespan_context(gateway) as state:
                yield state

        app = Starlette(routes=[Mount(prefix, app=gateway)], lifespan=lifespan)
    with serve(app) as url:
        yield Served(url, prefix)


def test_graphiql_renders_lists_the_schema_and_runs_a_query_offline(served: Served) -> None:
    requests: list[str] = []
    console: list[str] = []
    errors: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(VIOLATIONS)
        page.on("request", lambda r: requests.append(_url(r)))
        page.on("console", lambda m: console.append(_text(m)))
        page.on("pageerror", lambda e: errors.append(str(e)))
        response = page.goto(served.endpoint)
        assert response is not None and response.ok

        expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
        page.get_by_role("button", name="Show Documentation Explorer").click()
        docs = page.locator(".graphiql-doc-explorer")
        expect(docs).to_contain_text("query: Query")
        expect(docs).to_contain_text("mutation: Mutation")
        expect(docs).to_contain_text("ExecutionStep")

        page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
        result = page.locator(".graphiql-response")
        expect(result).to_contain_text('"friendlyName"')
        expect(result).to_contain_text('"sid": "FW')
        _open_and_close_dialogs(page)
        page.screenshot(path=f"/tmp/graphiql{served.prefix.replace('/', '-')}.png")
        violations = page.evaluate("window.violations")

    assert requests and all(url.startswith(served.origin + "/") for url in requests), requests
    # Below where the page was served: its assets, and the endpoint itself.
    base = served.origin + served.prefix
    assert all(url.startswith((f"{base}/graphiql/", served.endpoint)) for url in requests)
    assert {url.split("?")[0] for url in requests} >= {served.endpoint, f"{base}/graphiql/start.js"}
    assert violations == []
    assert not [m for m in console if "Content Security Policy" in m or m.startswith("error")]
    assert errors == []


def test_graphiql_runs_a_subscription_over_the_websocket(
    served: Served, emulator: Emulator
) -> None:
    ended = emulator.seeded_handles.ended_execution
    document = (
        f'subscription {{ executionUpdates(flowSid: "{ended.flow_sid}", '
        f'executionSid: "{ended.execution_sid}") {{ __typename ... on Execution {{ status }} }} }}'
    )
    sockets: list[str] = []
    errors: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(VIOLATIONS)
        page.on("websocket", lambda socket: sockets.append(socket.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served.endpoint)
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        expect(editor).to_be_visible()
        editor.evaluate("(node, text) => node.CodeMirror.setValue(text)", document)
        # GraphiQL parses the editor's text after a debounce, and sends what it has
        # not yet parsed over HTTP; give it that moment, as a person typing does.
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
        # The last update of an ended execution is the execution itself.
        result = page.locator(".graphiql-response")
        expect(result).to_contain_text('"status": "ENDED"')
        violations = page.evaluate("window.violations")
    ws_endpoint = served.endpoint.replace("http://", "ws://", 1)
    assert sockets == [ws_endpoint]
    assert violations == []
    assert errors == []


def _open_and_close_dialogs(page: Page) -> None:
    # Radix locks scrolling with the one style the policy allows by its hash.
    for name in ("Open settings dialog", "Open short keys dialog"):
        page.get_by_role("button", name=name).click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()


def _url(request: Request) -> str:
    return request.url


def _text(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"
