"""The WebSocket connections of a replica: how many, which may wait, closing them all.

See `gateway.websocket` for the rules; the close codes live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send

__all__ = ["ADMIT", "GraphQLWebSocket"]

#: Close codes of graphql-transport-ws (graphql-ws's PROTOCOL.md).
FORBIDDEN = 4403
#: graphql-transport-ws: the message is not one the protocol can read.
BAD_MESSAGE = 4400
#: RFC 6455: a message too big to process.
TOO_BIG = 1009
#: graphql-transport-ws: no `connection_init` in time.
INIT_TIMEOUT = 4408
#: RFC 6455: try again later (the replica holds its most connections).
TRY_AGAIN_LATER = 1013
#: RFC 6455: going away (the replica shuts down; connect again, elsewhere).
GOING_AWAY = 1001
LEAVING = "this gateway replica is shutting down: connect again"
EXPIRED = "the token has expired; connect again"
CROWDED = "send connection_init at once: newer connections needed the room"
FULL = "this replica holds its most WebSocket connections: connect again later"
#: The scope's key of the callable that admits a connection once it authenticated.
ADMIT = "gateway.websocket.admit"


class GraphQLWebSocket:
    """The WebSocket side of `/graphql`: counts connections, then lets the view speak."""

    def __init__(self, view: Any, *, max_connections: int, max_pending: int) -> None:
        self.view = view
        self.max_connections, self.max_pending = max_connections, max_pending
        #: Every open connection; those authenticated at `connection_init`.
        self.open = self.admitted = 0
        #: Those yet to authenticate, oldest first.
        self._pending: dict[_Door, None] = {}
        self._leaving = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def __repr__(self) -> str:
        return (
            f"GraphQLWebSocket(open={self.open}, admitted={self.admitted}, "
            f"max={self.max_connections})"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.admitted >= self.max_connections or self._leaving.is_set():
            code = GOING_AWAY if self._leaving.is_set() else TRY_AGAIN_LATER
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": code})
            return
        door = _Door(receive, send, self._leaving)
        if len(self._pending) >= self.max_pending:
            oldest = next(iter(self._pending))
            del self._pending[oldest]
            oldest.evicted.set()
        self._pending[door] = None
        self.open += 1
        self._idle.clear()
        try:
            admit = functools.partial(self._admit, door)
            await self.view({**scope, ADMIT: admit}, door.receive, door.send)
        finally:
            self.open -= 1
            self._pending.pop(door, None)
            if door.admitted:
                self.admitted -= 1
            if not self.open:
                self._idle.set()

    def _admit(self, door: _Door) -> tuple[int, str] | None:
        """Count `door` as authenticated; else the close code and reason."""
        if door not in self._pending:
            return INIT_TIMEOUT, CROWDED
        if self.admitted >= self.max_connections:
            return TRY_AGAIN_LATER, FULL
        del self._pending[door]
        door.admitted = True
        self.admitted += 1
        return None

    def route(self) -> WebSocketRoute:
        return WebSocketRoute("/graphql", self)

    async def go_away(self, wait: float = 5.0) -> None:
        """Close every open connection with 1001 and refuse new ones; wait (at most
        `wait` seconds) until their operations have ended."""
        self._leaving.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), wait)


class _Door:
    """One connection's receive and send, which a replica going away can close, or
    newer connections that need its room before it authenticated."""

    def __init__(self, receive: Receive, send: Send, leaving: asyncio.Event) -> None:
        self._receive, self._send, self._leaving = receive, send, leaving
        self._closed = False
        self.evicted = asyncio.Event()
        self.admitted = False

    async def receive(self) -> Message:
        if not self._closed:
            message = asyncio.ensure_future(self._receive())
            leaving = asyncio.ensure_future(self._leaving.wait())
            evicted = asyncio.ensure_future(self.evicted.wait())
            done, _ = await asyncio.wait(
                {message, leaving, evicted}, return_when=asyncio.FIRST_COMPLETED
            )
            leaving.cancel()
            evicted.cancel()
            if message in done:
                return message.result()
            message.cancel()
            code, reason = (
                (GOING_AWAY, LEAVING) if self._leaving.is_set() else (INIT_TIMEOUT, CROWDED)
            )
            await self.send({"type": "websocket.close", "code": code, "reason": reason})
        # The app reads its own end, and lets its operations go.
        return {"type": "websocket.disconnect", "code": GOING_AWAY}

    async def send(self, message: Message) -> None:
        if self._closed:
            return  # an operation's last words after the close: nobody hears them
        if message["type"] == "websocket.close":
            self._closed = True
        await self._send(message)
