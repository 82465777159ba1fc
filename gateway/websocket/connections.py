"""The WebSocket connections of a replica: how many, whose, which may wait, closing them all.

See `gateway.websocket` for the rules; the close codes live here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send

__all__ = ["SEAT", "GraphQLWebSocket", "Seat", "WebSocketLimits"]

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
#: RFC 6455: policy violation (the caller holds its own most connections).
OVER_QUOTA = 1008
#: RFC 6455: going away (the replica shuts down; connect again, elsewhere).
GOING_AWAY = 1001
LEAVING = "this gateway replica is shutting down: connect again"
EXPIRED = "the token has expired; connect again"
CROWDED = "send connection_init at once: newer connections needed the room"
FULL = "this replica holds its most WebSocket connections: connect again later"
#: The scope's key of the connection's `Seat`.
SEAT = "gateway.websocket.seat"
#: The subprotocol a refusal accepts with, when offered, so the client reads the close.
_PROTOCOL = "graphql-transport-ws"

Refusal = tuple[int, str]


@dataclass(frozen=True, slots=True)
class WebSocketLimits:
    """How many WebSocket connections and subscriptions a replica holds, and whose."""

    #: Authenticated connections at once.
    connections: int = 1000
    #: Connections yet to authenticate; a new one past it closes the oldest.
    pending: int = 100
    #: Authenticated connections of one principal (`quota_key`) at once.
    connections_per_principal: int = 100
    #: Connections yet to authenticate from one client address.
    pending_per_address: int = 10
    #: Subscriptions of one principal at once, over all its connections.
    subscriptions_per_principal: int = 200


class GraphQLWebSocket:
    """The WebSocket side of `/graphql`: counts connections, then lets the view speak."""

    def __init__(self, view: Any, limits: WebSocketLimits | None = None) -> None:
        self.view = view
        self.limits = limits or WebSocketLimits()
        #: Every open connection; those authenticated at `connection_init`.
        self.open = self.admitted = 0
        #: Those yet to authenticate, oldest first.
        self._pending: dict[_Door, None] = {}
        #: Connections yet to authenticate, by client address.
        self._waiting: Counter[str] = Counter()
        #: Authenticated connections, and running subscriptions, by `quota_key`.
        self._connections: Counter[str] = Counter()
        self._subscriptions: Counter[str] = Counter()
        self._leaving = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def __repr__(self) -> str:
        return (
            f"GraphQLWebSocket(open={self.open}, admitted={self.admitted}, "
            f"max={self.limits.connections})"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = _address(scope)
        refusal = self._refusal_at_handshake(address)
        if refusal is not None:
            await _refuse(scope, receive, send, refusal)
            return
        door = _Door(receive, send, self._leaving, address)
        if len(self._pending) >= self.limits.pending:
            oldest = next(iter(self._pending))
            self._stop_waiting(oldest)
            oldest.evicted.set()
        self._pending[door] = None
        self._waiting[address] += 1
        self.open += 1
        self._idle.clear()
        try:
            await self.view({**scope, SEAT: Seat(self, door)}, door.receive, door.send)
        finally:
            self.open -= 1
            self._stop_waiting(door)
            if door.who is not None:
                self.admitted -= 1
                _drop(self._connections, door.who)
            if not self.open:
                self._idle.set()

    def _refusal_at_handshake(self, address: str) -> Refusal | None:
        if self._leaving.is_set():
            return GOING_AWAY, LEAVING
        if self.admitted >= self.limits.connections:
            return TRY_AGAIN_LATER, FULL
        most = self.limits.pending_per_address
        if self._waiting[address] >= most:
            # A close reason holds at most 123 bytes.
            return OVER_QUOTA, (
                f"this address has its most connections ({most}) awaiting connection_init: "
                "send it on those"
            )
        return None

    def _stop_waiting(self, door: _Door) -> None:
        if door in self._pending:
            del self._pending[door]
            _drop(self._waiting, door.address)

    def admit(self, door: _Door, who: str) -> Refusal | None:
        """Count `door` as authenticated for `who` (a `quota_key`); else the close code
        and reason."""
        if door not in self._pending:
            return INIT_TIMEOUT, CROWDED
        if self.admitted >= self.limits.connections:
            return TRY_AGAIN_LATER, FULL
        most = self.limits.connections_per_principal
        if self._connections[who] >= most:
            return OVER_QUOTA, (
                f"these credentials hold their most WebSocket connections here ({most}): "
                "close one first"
            )
        self._stop_waiting(door)
        door.who = who
        self.admitted += 1
        self._connections[who] += 1
        return None

    def subscription(self, who: str) -> Callable[[], None] | None:
        """Count one more subscription of `who`: how to give it back; None when `who`
        runs its most already."""
        if self._subscriptions[who] >= self.limits.subscriptions_per_principal:
            return None
        self._subscriptions[who] += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                _drop(self._subscriptions, who)

        return give_back

    def route(self) -> WebSocketRoute:
        return WebSocketRoute("/graphql", self)

    async def go_away(self, wait: float = 5.0) -> None:
        """Close every open connection with 1001 and refuse new ones; wait (at most
        `wait` seconds) until their operations have ended."""
        self._leaving.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), wait)


class Seat:
    """One connection's place in its replica's room, as its protocol handler sees it."""

    __slots__ = ("_door", "_room")

    def __init__(self, room: GraphQLWebSocket, door: _Door) -> None:
        self._room, self._door = room, door

    @property
    def limits(self) -> WebSocketLimits:
        return self._room.limits

    def admit(self, who: str) -> Refusal | None:
        """Take an authenticated place for `who`; else the close code and reason."""
        return self._room.admit(self._door, who)

    def subscription(self) -> Callable[[], None] | None:
        """Take one of its principal's subscriptions (see `GraphQLWebSocket.subscription`)."""
        who = self._door.who
        return self._room.subscription(who) if who is not None else None


class _Door:
    """One connection's receive and send, which a replica going away can close, or
    newer connections that need its room before it authenticated."""

    def __init__(self, receive: Receive, send: Send, leaving: asyncio.Event, address: str) -> None:
        self._receive, self._send, self._leaving = receive, send, leaving
        self.address = address
        self._closed = False
        self.evicted = asyncio.Event()
        #: Whose connection it is once authenticated (`quota_key`).
        self.who: str | None = None

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


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _drop(counter: Counter[str], key: str) -> None:
    """One fewer of `key`; none left drops the key (the counters never grow with callers
    gone)."""
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    """Accept, then close with the code and reason at once: a refusal before the
    handshake's answer reaches a client as a bare HTTP 403, which says nothing."""
    await receive()  # websocket.connect
    offered = scope.get("subprotocols") or ()
    accept: dict[str, Any] = {"type": "websocket.accept"}
    if _PROTOCOL in offered:
        accept["subprotocol"] = _PROTOCOL
    code, reason = refusal
    await send(accept)
    await send({"type": "websocket.close", "code": code, "reason": reason})
