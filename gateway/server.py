"""The HTTP server under the app: uvicorn's own protocols, guarded against slow clients.

uvicorn closes a kept-alive connection that stays idle, but waits as long as a
client likes for the rest of a request: connections that send half a header
block hold their sockets for ever (slowloris), and a body may trickle in a byte
at a time. The protocols here are uvicorn's, with two timers per connection:

- **Headers.** Armed when a connection opens and when the next request on a
  kept-alive connection begins; stopped when the header block is complete. When
  it fires the connection is closed, after a `408 Request Timeout` if part of a
  request had come.
- **Body.** Once the headers are complete and a body is due, the body must
  arrive at an average of at least `min_body_rate` bytes a second, counted from
  the end of the headers and checked once `body_grace` has passed, then every
  second (Kestrel's rule: a slow but steady link gets through, a trickle does
  not). The clock starts again while the server itself has stopped reading (the
  application has not taken what came). A body that falls behind is cut off: the
  connection is closed.

Between requests uvicorn's keep-alive timeout applies, as before.

- **HTTP slots.** uvicorn's own bound (`limit_concurrency`) counts every
  connection and task, WebSockets included: a thousand sockets held open by one
  client made every request, `/healthz` too, a 503. Here `HttpSlots` counts HTTP
  connections and the requests in progress alone (WebSockets have their own
  bounds, in `gateway.websocket`); past `max_connections` a request is answered
  503 and its connection closed, as uvicorn would, except a probe (`/healthz`,
  `/readyz`, `/metrics`): client load never makes a probe fail.

`options()` hands uvicorn these protocols and their slots.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.observability.logs import log
from gateway.settings import Settings

__all__ = ["GuardedHttpToolsProtocol", "HttpSlots", "SlowClientLimits", "http_protocol", "options"]

#: How often a body's rate is checked once its grace is over.
BODY_CHECK_SECONDS = 1.0
#: Seconds a kept-alive connection may idle between requests (uvicorn's default).
KEEP_ALIVE_TIMEOUT = 5
#: What an orchestrator or a scraper asks: answered whatever the load.
PROBES: Final = frozenset({b"/healthz", b"/readyz", b"/metrics"})


@dataclass(frozen=True)
class SlowClientLimits:
    """How long a client may take to send a request."""

    #: Seconds from connecting, or from a kept-alive request's first byte, to the
    #: end of the header block.
    header_timeout: float = 10.0
    #: Bytes a second a body must average once its grace is over; 0 for no minimum.
    min_body_rate: float = 1024.0
    #: Seconds a body may take before its rate counts.
    body_grace: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SlowClientLimits:
        return cls(
            header_timeout=settings.header_timeout,
            min_body_rate=settings.min_body_rate,
            body_grace=settings.body_grace,
        )


class HttpSlots:
    """One process's HTTP connections and requests in progress, bounded apart from
    WebSockets; a probe is never refused."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.connections = 0
        self.requests = 0
        self._apps: dict[int, ASGIApp] = {}

    def __repr__(self) -> str:
        return (
            f"HttpSlots(connections={self.connections}, requests={self.requests}, "
            f"limit={self.limit})"
        )

    def refuses(self, target: bytes) -> bool:
        """Whether a request for `target` (the request line's, query included) is
        over the bound."""
        if self.limit is None or target.split(b"?", 1)[0] in PROBES:
            return False
        return self.connections >= self.limit or self.requests >= self.limit

    def counting(self, app: ASGIApp) -> ASGIApp:
        """`app`, counting the requests in progress (one wrapper per app)."""
        counted = self._apps.get(id(app))
        if counted is None:
            counted = self._apps[id(app)] = functools.partial(self._count, app)
        return counted

    async def _count(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.requests += 1
        try:
            await app(scope, receive, send)
        finally:
            self.requests -= 1


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (its default) with the header and body timers.

    httptools calls `on_message_begin` at a request's first byte,
    `on_headers_complete` at the end of its header block and
    `on_message_complete` at the end of its body; the timers follow those.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: SlowClientLimits,
        slots: HttpSlots | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        # Ours instead of uvicorn's bound, which WebSockets would take.
        self.slots = slots if slots is not None else HttpSlots()
        self.limit_concurrency = None
        self.app = self.slots.counting(self.app)
        self._counted = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        #: Part of a request has come since the header timer was armed.
        self._partial = False
        #: When the body's clock started (None: no body due) and what came since.
        self._body_since: float | None = None
        self._body_bytes = 0

    # -- uvicorn's protocol and parser callbacks ------------------------------------

    # uvicorn's own override narrows the transport so: it runs over TCP streams.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.slots.connections += 1
        self._counted = True
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timers()
        self._uncount()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._body_since is not None:
            self._body_bytes += len(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._partial = True
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        # uvicorn answers 503 while its bound is not None and reached: 0 is reached.
        self.limit_concurrency = 0 if self.slots.refuses(self.url) else None
        super().on_headers_complete()
        self._cancel_header_timer()
        self._partial = False
        if self.limits.min_body_rate > 0:
            self._start_body_clock()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_body_clock()

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over, and the WebSocket's bounds.
        self._stop_timers()
        self._uncount()
        super().handle_websocket_upgrade()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.slots.connections -= 1

    # -- the timers -------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._headers_late
            )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _start_body_clock(self) -> None:
        self._stop_body_clock()
        self._body_since, self._body_bytes = self.loop.time(), 0
        self._body_timer = self.loop.call_later(self.limits.body_grace, self._check_body)

    def _stop_body_clock(self) -> None:
        self._body_since = None
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _stop_timers(self) -> None:
        self._cancel_header_timer()
        self._stop_body_clock()

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        timeout = self.limits.header_timeout
        log(logging.INFO, "connection closed: request headers too slow", timeout_s=timeout)
        cycle = self.cycle
        # Answer only between responses, never into one still being written.
        if self._partial and (cycle is None or cycle.response_complete):
            self.transport.write(_request_timeout(f"request headers not complete in {timeout:g}s"))
        self.transport.close()

    def _check_body(self) -> None:
        self._body_timer = None
        since = self._body_since
        if since is None or self.transport.is_closing():
            return
        if self.flow.read_paused:
            # The application has not taken what came; the client is not behind.
            self._start_body_clock()
            return
        if self._body_bytes < self.limits.min_body_rate * (self.loop.time() - since):
            log(
                logging.INFO,
                "connection closed: request body too slow",
                min_body_rate=self.limits.min_body_rate,
            )
            self.transport.close()
            return
        self._body_timer = self.loop.call_later(BODY_CHECK_SECONDS, self._check_body)


def _request_timeout(message: str) -> bytes:
    body = message.encode("ascii")
    return (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


def http_protocol(
    limits: SlowClientLimits, slots: HttpSlots | None = None
) -> Callable[..., asyncio.Protocol]:
    """The protocol factory for uvicorn's `http=`: uvicorn calls it once per connection,
    and every connection counts in the same `slots`.

    A partial of a module-level class, so it pickles into `--workers` processes.
    """
    return functools.partial(
        GuardedHttpToolsProtocol, limits=limits, slots=slots if slots is not None else HttpSlots()
    )


def options(settings: Settings) -> dict[str, Any]:
    """What `serve` and `demo` hand uvicorn besides the app, host and port."""
    return {
        # Past this many HTTP connections or requests in progress, 503 and close.
        "http": http_protocol(
            SlowClientLimits.from_settings(settings), HttpSlots(settings.max_connections)
        ),
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
        # A WebSocket message is no larger than a request body (gateway.websocket).
        "ws_max_size": settings.max_body_bytes,
        # uvicorn's line holds the query string, GET variables included; the app
        # writes its own (gateway.observability.access).
        "access_log": False,
    }
