"""GraphiQL is the gateway's own page: pinned assets it serves itself, a strict CSP.

`tests/clients/test_graphiql_browser.py` loads it in a real browser; these
check what the browser is given, the switch and the root path
(`tests/docker/test_image_install.py` checks that the wheel holds the files).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.graphiql import STATIC
from gateway.security.auth import hash_key
from tests.support import asgi_client, asgi_transport, gateway_process, gateway_settings

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
FLOWS = "{ flows(first: 1) { nodes { sid } } }"


@asynccontextmanager
async def gateway(
    emulator: Emulator, *, root_path: str = "", **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings(**settings), transport=asgi_transport(emulator))
    async with asgi_client(app, root_path=root_path) as http:
        yield http


def assets_of(page: str) -> list[str]:
    """The URLs the page loads: every script's and stylesheet's (and the icon's)."""
    return re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', page)


def directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {name: sources for name, *sources in parts}


async def test_a_browser_gets_the_page_with_a_policy_that_allows_only_the_gateway(
    emulator: Emulator,
) -> None:
    async with gateway(emulator, environment="development") as http:
        response = await http.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # The page holds no data; HTTP caching marks every /graphql answer but a proven one.
    assert response.headers["cache-control"] in ("no-cache", "no-store")
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # Styles: the gateway's files, and one fixed style allowed by its hash.
    assert policy["style-src"][0] == "'self'" and policy["style-src"][1].startswith("'sha256-")
    assert not [s for sources in policy.values() for s in sources if "unsafe" in s]
    page = response.text
    # No inline script: every <script> loads a file, and no URL leaves the gateway.
    assert re.findall(r"<script[^>]*>([^<]*)</script>", page) == [""] * page.count("<script")
    assert "//" not in "".join(assets_of(page))
    assert "https://" not in page and "http://" not in page
    assert {url.split("?")[0] for url in assets_of(page)} == {
        "graphiql/favicon.svg",
        "graphiql/vendor/graphiql.min.css",
        "graphiql/vendor/plugin-explorer.css",
        "graphiql/page.css",
        "graphiql/vendor/react.production.min.js",
        "graphiql/vendor/react-dom.production.min.js",
        "graphiql/vendor/graphiql.min.js",
        "graphiql/vendor/plugin-explorer.umd.js",
        "graphiql/start.js",
    }


async def test_every_asset_is_served_with_its_type_and_a_year_long_cache(
    emulator: Emulator,
) -> None:
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    async with gateway(emulator, environment="development") as http:
        page = (await http.get("/graphql", headers=HTML)).text
        for url in assets_of(page):
            name, version = url.split("?v=")
            response = await http.get("/" + url)
            assert response.status_code == 200, url
            body = (STATIC / name.removeprefix("graphiql/")).read_bytes()
            assert response.content == body
            # The URL names the content: a new version is a new URL.
            assert hashlib.sha256(body).hexdigest().startswith(version)
            assert response.headers["content-type"].startswith(types[Path(name).suffix])
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert response.headers["x-content-type-options"] == "nosniff"


async def test_only_the_pages_assets_are_served(emulator: Emulator) -> None:
    async with gateway(emulator, environment="development") as http:
        for path in (
            "/graphiql/index.html",
            "/graphiql/vendor/manifest.json",
            "/graphiql/vendor/licenses/react.LICENSE",
            "/graphiql/vendor/missing.js",
            "/graphiql/..%2F..%2Fapp.py",
            "/graphiql/",
        ):
            assert (await http.get(path)).status_code == 404, path


async def test_the_page_needs_no_credentials_but_graphql_still_does(emulator: Emulator) -> None:
    keys = json.dumps([{"name": "ci", "sha256": hash_key("k" * 32), "scopes": []}])
    async with gateway(emulator, environment="development", auth="api_keys", api_keys=keys) as http:
        page = await http.get("/graphql", headers=HTML)
        asset = await http.get("/graphiql/start.js")
        refused = await http.post("/graphql", json={"query": FLOWS})
        anonymous_get = await http.get("/graphql", params={"query": FLOWS}, headers=HTML)
    assert page.status_code == 200 and "graphiql/start.js" in page.text
    assert asset.status_code == 200
    assert refused.status_code == 401
    # A GET carrying an operation is GraphQL, not the page, whatever the browser accepts.
    assert anonymous_get.status_code == 401


async def test_a_get_with_an_operation_is_answered_by_graphql(emulator: Emulator) -> None:
    async with gateway(emulator, environment="development") as http:
        response = await http.get("/graphql", params={"query": FLOWS}, headers=HTML)
        head = await http.head("/graphql", headers=HTML)
    assert response.json()["data"]["flows"]["nodes"]
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/html")


async def test_behind_a_root_path_the_page_and_its_assets_follow_it(emulator: Emulator) -> None:
    async with gateway(emulator, root_path="/studio", environment="development") as http:
        page = await http.get("/studio/graphql", headers=HTML)
        assert page.status_code == 200
        for url in assets_of(page.text):
            # Relative to the page, as the browser resolves them.
            resolved = httpx.URL("http://gw.test/studio/graphql").join(url)
            assert (await http.get(resolved)).status_code == 200, resolved
        answer = await http.post("/studio/graphql", json={"query": FLOWS})
    assert answer.json()["data"]["flows"]["nodes"]


async def test_with_graphiql_off_a_browser_is_told_how_to_turn_it_on_and_no_asset_is_served(
    emulator: Emulator,
) -> None:
    async with gateway(emulator, environment="production") as http:
        page = await http.get("/graphql", headers=HTML)
        client = await http.get("/graphql")
        asset = await http.get("/graphiql/start.js")
    assert page.status_code == 404
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "GraphiQL is off" in page.text
    assert "STUDIO_GATEWAY_GRAPHIQL=true" in page.text
    assert "STUDIO_GATEWAY_ENVIRONMENT=development" in page.text
    # A hint, not the IDE: it loads nothing and may run nothing.
    assert assets_of(page.text) == [] and "<script" not in page.text
    assert directives(page.headers["content-security-policy"])["default-src"] == ["'none'"]
    # A client that does not ask for HTML gets GraphQL's own answer, as before.
    assert client.status_code != 200 and "GraphiQL" not in client.text
    assert client.headers["content-type"].startswith("application/")
    assert asset.status_code == 404
    async with gateway(emulator, environment="production", graphiql=True) as http:
        assert (await http.get("/graphiql/start.js")).status_code == 200


def test_a_production_gateway_process_tells_a_browser_that_graphiql_is_off(
    upstream: str,
) -> None:
    with gateway_process(upstream) as served:
        page = httpx.get(f"{served.url}/graphql", headers=HTML, timeout=10)
        answer = httpx.post(f"{served.url}/graphql", json={"query": FLOWS}, timeout=10)
    assert page.status_code == 404
    assert "GraphiQL is off" in page.text and "STUDIO_GATEWAY_GRAPHIQL=true" in page.text
    assert answer.json()["data"]["flows"]["nodes"]
