"""HTTP caching of `/graphql` answers: `Cache-Control`, `ETag`, `304`, `Vary`.

The view decides what may be kept (`gateway.http.view`): a GET answer read
only from what never changes, without an error, says
`Cache-Control: private, max-age=…`. This middleware does the rest for every
answer on its path:

- such an answer gets a strong `ETag` over the bytes sent (so outside
  compression: each coding has its own), and a request whose `If-None-Match`
  names it gets `304 Not Modified` with no body;
- every other answer (a POST, an error, anything that read what can change, a
  refusal at the door, the GraphiQL page) is `Cache-Control: no-store`;
- `Vary` names the request headers that pick the caller and the answer's form,
  so no cache hands one caller's answer to another.
"""

from __future__ import annotations

import hashlib
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.negotiation import add_vary

__all__ = ["VARY", "HttpCaching"]

#: Who is asking (credentials, cookies, origin) and what form they want.
VARY: Final = (
    "Authorization",
    "X-API-Key",
    "Cookie",
    "Origin",
    "Accept",
    "Accept-Encoding",
    "X-Cost-Only",
)
# A 304 carries what guides the cache, not the representation's own metadata.
_NOT_ON_304: Final = ("content-length", "content-type", "content-encoding")


class HttpCaching:
    """ASGI middleware for one path (`/graphql`); place it outside compression."""

    def __init__(self, app: ASGIApp, *, path: str = "/graphql") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] not in ("GET", "POST")
        ):
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        held: Message | None = None
        parts: list[bytes] = []

        async def caching_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message["headers"]))
                add_vary(headers, *VARY)
                if _keepable(scope["method"], message["status"], headers):
                    held = {**message, "headers": headers.raw}  # until the body is whole
                    return
                headers["cache-control"] = "no-store"
                await send({**message, "headers": headers.raw})
            elif held is not None and message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(parts)
                headers = MutableHeaders(raw=held["headers"])
                headers["etag"] = etag = _etag(body)
                if if_none_match is not None and _names(if_none_match, etag):
                    for name in _NOT_ON_304:
                        del headers[name]
                    await send({**held, "status": 304, "headers": headers.raw})
                    await send({"type": "http.response.body", "body": b""})
                else:
                    await send({**held, "headers": headers.raw})
                    await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, caching_send)


def _keepable(method: str, status: int, headers: MutableHeaders) -> bool:
    return method == "GET" and status == 200 and "max-age" in headers.get("cache-control", "")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _names(if_none_match: str, etag: str) -> bool:
    """Whether `If-None-Match` names this tag (weak comparison, RFC 9110 §13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
