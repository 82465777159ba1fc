"""GraphiQL served by the gateway itself: no CDN, a strict Content-Security-Policy.

The page (`static/graphiql/index.html`), its start-up script and styles are
ours; React, GraphiQL and its explorer plugin are vendored and pinned under
`static/graphiql/vendor` (`make graphiql-assets`; `vendor/manifest.json`
records their versions and checksums). So the IDE works offline, tells no
third party about a visit, and runs under `default-src 'self'`.

A browser's GET of `/graphql` (`Accept: text/html`, no `query`) is answered
with the page before the `/graphql` gate: the page holds no data, and
GraphiQL's own requests then go through the gate like any client's. The
assets are under `/graphiql/`, their URLs carrying their digest so a browser
may keep them for a year.
"""

from __future__ import annotations

import functools
import hashlib
import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "GraphiQL", "GraphiQLPage", "graphiql_off"]

STATIC: Final = Path(__file__).parent / "static" / "graphiql"
#: Where the assets are, relative to the page (and to the app's root).
PREFIX: Final = "graphiql/"

#: The one style GraphiQL writes into the page: Radix's dialogs (settings, short
#: keys) lock the body's scrolling with a `<style>` whose text is fixed for this
#: page (no margin, no scrollbar), so it is allowed by its hash, not by
#: 'unsafe-inline'. The browser test opens both dialogs and sees no violation.
SCROLL_LOCK_STYLE: Final = "'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='"
#: Only the gateway's own origin. GraphiQL's stylesheet carries its fonts as
#: `data:` URLs; no script is inline.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' {SCROLL_LOCK_STYLE}",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # /graphql answers JSON to everything but a browser's page load.
    "Vary": "Accept",
}
_ASSET_HEADERS: Final = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class Asset:
    path: Path
    media_type: str
    sha256: str


@dataclass(frozen=True)
class GraphiQL:
    """The page, ready to send, and the assets it may load, by name under `/graphiql/`."""

    page: bytes
    assets: dict[str, Asset]

    @classmethod
    def load(cls, root: Path = STATIC) -> GraphiQL:
        return _load(root)

    def route(self) -> Route:
        """`GET /graphiql/{name}`: an asset, with long cache headers; 404 for any other name."""
        return Route("/" + PREFIX + "{name:path}", self.asset, methods=["GET", "HEAD"])

    async def asset(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["name"])
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(asset.path, media_type=asset.media_type, headers=_ASSET_HEADERS)

    def page_response(self) -> Response:
        return Response(self.page, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@functools.cache
def _load(root: Path) -> GraphiQL:
    # Read once per process: the files are the package's own and never change.
    assets: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        media_type = _MEDIA_TYPES.get(path.suffix)
        if media_type is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assets[path.relative_to(root).as_posix()] = Asset(path, media_type, digest)
    page = (root / "index.html").read_text(encoding="utf-8")
    for name, asset in assets.items():
        # A new version is a new URL, so the year-long cache never serves a stale one.
        page = page.replace(f'"{PREFIX}{name}"', f'"{PREFIX}{name}?v={asset.sha256[:16]}"')
    return GraphiQL(page.encode(), assets)


class GraphiQLPage:
    """ASGI middleware: a browser's GET of the GraphQL path gets `page()`: GraphiQL's
    page, or where GraphiQL is off, one saying how to turn it on (`graphiql_off`)."""

    def __init__(
        self, app: ASGIApp, *, page: Callable[[], Response], path: str = "/graphql"
    ) -> None:
        self.app, self.page, self.path = app, page, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and _route_path(scope) == self.path
            and _wants_page(scope)
        ):
            await self.page()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def graphiql_off(how: str) -> Callable[[], Response]:
    """The page a browser gets where GraphiQL is off: a 404 saying so and `how` to turn
    it on, instead of a bare JSON 404."""
    page = _OFF_PAGE.replace("{how}", html.escape(how)).encode()

    def response() -> Response:
        return Response(
            page, status_code=404, media_type="text/html; charset=utf-8", headers=_OFF_HEADERS
        )

    return response


_OFF_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL is off</title></head>
<body>
<h1>GraphiQL is off</h1>
<p>This is Studio Gateway's GraphQL endpoint. GraphiQL, the in-browser IDE, is a
development-mode page: it is off because the gateway runs in production mode.</p>
<p>To turn it on, {how}, and restart the gateway.</p>
<p>Clients send their operations here with POST (or GET with a <code>query</code>
parameter).</p>
</body></html>
"""
_OFF_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Vary": "Accept",
}


def _wants_page(scope: Scope) -> bool:
    """A browser loading the page: it accepts HTML and sends no operation."""
    if "text/html" not in Headers(scope=scope).get("accept", ""):
        return False
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return "query" not in params and "extensions" not in params


def _route_path(scope: Scope) -> str:
    """The path below the app's root path (a proxy's prefix), as the router matches it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path
