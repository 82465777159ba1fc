"""Request ids and the access log: one line per HTTP request, written by the app.

uvicorn's own access line holds the query string, and a GET's query string
holds the GraphQL variables (a phone number, a context value), even on a
request refused with 405; `serve` and `demo` turn it off. This line holds the
method, the path (never the query string), the status, the duration, the
request's GraphQL operations by name when they have a plain one, and the
request id.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability.logs import log
from gateway.observability.requests import RequestInfo

#: Longest path written; a client chooses it, so it is cut.
MAX_PATH = 200


class AccessLog:
    """Give every request an id (the client's `X-Request-ID`, or a new one), echo
    it on the response, and log the request's access line when it is done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                sent = value.decode("latin-1")
                break
        info = RequestInfo.begin(sent)
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", info.request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = status or 500  # what the server answers for an app that raised
            raise
        finally:
            named = [name for name in info.operations if name]
            log(
                logging.INFO,
                "request",
                method=scope["method"],
                path=_printable(scope["path"])[:MAX_PATH],
                status=status,  # None: the client left before a response began
                duration_ms=round((time.perf_counter() - info.started) * 1000, 1),
                operation=",".join(named) or None,
            )


def _printable(text: str) -> str:
    """The path with control characters escaped, so one line stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
