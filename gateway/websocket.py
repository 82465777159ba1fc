"""GraphQL over WebSocket on `/graphql`: graphql-transport-ws, behind the same door as HTTP.

- **Origin.** A browser's handshake from an origin not in
  `STUDIO_GATEWAY_CORS_ORIGINS` is refused (HTTP 403) before anything else;
  clients that send no `Origin` are not browsers and carry no ambient credentials.
- **Connections.** At most `STUDIO_GATEWAY_WEBSOCKET_MAX_CONNECTIONS` authenticated
  at once per replica; one more is refused at the handshake. Until its
  `connection_init` authenticates it, a connection counts against the smaller
  `STUDIO_GATEWAY_WEBSOCKET_MAX_PENDING` instead, and waits at most
  `STUDIO_GATEWAY_WEBSOCKET_INIT_TIMEOUT` seconds for it (then 4408); with that
  many waiting, the oldest of them is closed (4408) to make room for a new one.
  So silent sockets take no authenticated client's room, and a flood of them
  must outpace a client's own `connection_init` to keep it out.
- **Who.** Checked at `connection_init` by the same authenticator as HTTP, from
  the payload (`{"Authorization": "Bearer …"}` or `{"X-API-Key": …}`, as the
  headers would be) over the handshake's headers; refused: close 4403 with the
  reason. Scopes then apply per operation, as over HTTP. A JWT's expiry holds
  on an open connection too: at it (`exp` and `STUDIO_GATEWAY_JWT_LEEWAY`) the
  connection is closed with 4403, and the client connects again with a fresh token.
- **What.** Subscriptions only: a query or a mutation gets an `error` message
  that sends it to HTTP (graphql-ws clients send only subscriptions here). Each
  `subscribe` passes the persisted queries as HTTP does (APQ, and with
  `STUDIO_GATEWAY_SAFELIST_FILE` only what the safelist holds runs), with the
  same code and message as HTTP in an `error` message when refused.
- **How much.** At most `STUDIO_GATEWAY_WEBSOCKET_MAX_SUBSCRIPTIONS` operations
  at once per connection: one more gets an `error` message saying so.
- **What it reads.** Each message is read by `gateway.security.client_json`, the
  HTTP body's reader (bad JSON closes 4400 with the reason), and one larger than
  `STUDIO_GATEWAY_MAX_BODY_BYTES` closes 1009 unread (uvicorn's `ws_max_size`
  too, from `gateway.server.options`).
- **Keep-alive.** The server pings every `STUDIO_GATEWAY_WEBSOCKET_PING_INTERVAL`
  seconds (a graphql-transport-ws `ping`); clients answer `pong`.
- **Going away.** At the end of the SIGTERM drain (`gateway.lifecycle`) every
  open connection is closed with 1001 (going away), so its client reconnects
  to another replica, before the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol

import orjson
from graphql import GraphQLError, OperationType, parse
from starlette.datastructures import Headers
from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.exceptions import NonTextMessageReceived, WebSocketDisconnected
from strawberry.http.websocket_origin import normalize_allowed_origins
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message as ProtocolMessage,
)

from gateway.events.watch import Live
from gateway.graphql import Context
from gateway.loaders import Loaders
from gateway.security import client_json
from gateway.security.auth import Authenticator, Unauthenticated
from gateway.security.codes import Code
from gateway.security.gate import MAX_GET_TOKENS, chosen_operation
from gateway.security.persisted import PersistedError, PersistedQueries
from gateway.settings import Settings
from gateway.studio import Credentials, InvalidArgument

__all__ = ["GraphQLWebSocket", "websocket_endpoint"]

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
_LEAVING = "this gateway replica is shutting down: connect again"
_EXPIRED = "the token has expired; connect again"
_CROWDED = "send connection_init at once: newer connections needed the room"
_FULL = "this replica holds its most WebSocket connections: connect again later"
#: The scope's key of the callable that admits a connection once it authenticated.
ADMIT = "gateway.websocket.admit"


class LiveGateway(Protocol):
    """What a connection needs of the gateway (`gateway.app.Gateway`)."""

    live: Live | None

    def loaders(self, credentials: Credentials | None = None) -> Loaders: ...


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
            return INIT_TIMEOUT, _CROWDED
        if self.admitted >= self.max_connections:
            return TRY_AGAIN_LATER, _FULL
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
                (GOING_AWAY, _LEAVING) if self._leaving.is_set() else (INIT_TIMEOUT, _CROWDED)
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


def websocket_endpoint(
    view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Context, None],
    settings: Settings,
    authenticator: Authenticator,
    persisted: PersistedQueries,
) -> GraphQLWebSocket:
    """`/graphql` for WebSockets (its `route()`), over `view` (the HTTP side's GraphQL view)."""
    view.protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
    view.websocket_adapter_class = _reader(settings.max_body_bytes)
    view.allowed_origins = normalize_allowed_origins(settings.cors_origin_list())
    view.max_subscriptions_per_connection = None  # ours, with a clearer answer
    view.connection_init_wait_timeout = timedelta(seconds=settings.websocket_init_timeout)
    view.graphql_transport_ws_handler_class = _handler(
        authenticator,
        persisted,
        passthrough=settings.upstream_credentials == "passthrough",
        max_operations=settings.websocket_max_subscriptions,
        ping_interval=settings.websocket_ping_interval,
    )
    return GraphQLWebSocket(
        view,
        max_connections=settings.websocket_max_connections,
        max_pending=settings.websocket_max_pending,
    )


def _handler(
    authenticator: Authenticator,
    persisted: PersistedQueries,
    *,
    passthrough: bool,
    max_operations: int,
    ping_interval: float,
) -> type[BaseGraphQLTransportWSHandler[Context, None]]:
    class Handler(BaseGraphQLTransportWSHandler[Context, None]):
        """graphql-transport-ws with the gateway's door, limits and pings."""

        pinger: asyncio.Task[None] | None = None
        expiry: asyncio.Task[None] | None = None

        async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
            payload = message.get("payload") or {}
            if isinstance(payload, dict) and not self.connection_init_received:
                try:
                    await self._admit(payload)
                    refusal = self._take_room()
                except Unauthenticated as refused:
                    refusal = FORBIDDEN, _reason(str(refused))
                if refusal is not None:
                    if self.connection_init_timeout_task:
                        self.connection_init_timeout_task.cancel()
                    await self.websocket.close(*refusal)
                    return
            await super().handle_connection_init(message)
            if self.connection_acknowledged and ping_interval > 0:
                self.pinger = asyncio.get_running_loop().create_task(self._ping())

        def _take_room(self) -> tuple[int, str] | None:
            admit: Callable[[], tuple[int, str] | None] | None = self.context.request.scope.get(
                ADMIT
            )
            return admit() if admit is not None else None

        async def _admit(self, payload: dict[str, Any]) -> None:
            headers = _headers(self.context.request, payload)
            principal = await authenticator.authenticate(headers)
            credentials = _credentials(headers) if passthrough else None
            # The lifespan's state, as for HTTP requests (gateway.app).
            owner: LiveGateway | None = getattr(self.context.request.state, "gateway", None)
            if owner is None:
                raise Unauthenticated("the gateway is starting; connect again")
            self.context.principal = principal
            if principal.expires_at is not None:
                self.expiry = asyncio.get_running_loop().create_task(
                    self._expire(principal.expires_at)
                )
            self.context.new_loaders = lambda: owner.loaders(credentials)
            self.context.loaders = self.context.new_loaders()
            self.context.live = owner.live

        async def handle_subscribe(self, message: SubscribeMessage) -> None:
            if not self.connection_acknowledged:
                await super().handle_subscribe(message)  # closes: 4401
                return
            expires_at = self.context.principal.expires_at
            if expires_at is not None and time.time() >= expires_at:
                await self.websocket.close(code=FORBIDDEN, reason=_EXPIRED)
                return
            if len(self.operations) >= max_operations:
                await self._refuse(
                    message["id"],
                    f"this connection already runs {max_operations} operations, its most "
                    "(STUDIO_GATEWAY_WEBSOCKET_MAX_SUBSCRIPTIONS): complete one first",
                    Code.RATE_LIMITED,
                    limit=max_operations,
                )
                return
            payload: Any = message["payload"]
            if not isinstance(payload, dict):
                await self.handle_invalid_message("a subscribe message's payload is an object")
                return
            try:
                payload = await persisted.resolve(payload)
            except PersistedError as error:
                # What HTTP answers (gateway.security.gate), as the operation's error.
                await self._refuse(message["id"], error.message, error.code)
                return
            refusal = _not_a_subscription(payload.get("query"), payload.get("operationName"))
            if refusal is not None:
                await self._refuse(message["id"], *refusal)
                return
            await super().handle_subscribe({**message, "payload": payload})

        async def _refuse(self, id: str, text: str, code: Code, **extensions: Any) -> None:
            error = GraphQLError(text, extensions={"code": code.value, **extensions})
            await self.send_message({"id": id, "type": "error", "payload": [error.formatted]})

        async def send_message(self, message: ProtocolMessage) -> None:
            # Text frames always: the view's encoder gives bytes (orjson, for HTTP),
            # which strawberry would send as a binary frame, and graphql-ws clients
            # (Apollo's GraphQLWsLink, urql) cannot read one.
            websocket = getattr(self.websocket, "ws", None)
            if websocket is None:
                await super().send_message(message)
                return
            try:
                await websocket.send_text(_text(message))
            except WebSocketDisconnect as exc:
                raise WebSocketDisconnected from exc

        async def _ping(self) -> None:
            while True:
                await asyncio.sleep(ping_interval)
                await self.send_message({"type": "ping"})

        async def _expire(self, expires_at: float) -> None:
            # The token's clock is the wall clock.
            await asyncio.sleep(max(0.0, expires_at - time.time()))
            await self.websocket.close(code=FORBIDDEN, reason=_EXPIRED)

        async def shutdown(self) -> None:
            for task in (self.pinger, self.expiry):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            await super().shutdown()

    return Handler


def _not_a_subscription(query: Any, operation_name: Any) -> tuple[str, Code] | None:
    """Why an operation may not run over the WebSocket; None for one subscription."""
    if not isinstance(query, str):
        return "send the operation's text in payload.query", Code.BAD_REQUEST
    try:
        document = parse(query, max_tokens=MAX_GET_TOKENS)
    except GraphQLError as error:
        return error.message, Code.GRAPHQL_PARSE_FAILED
    kind = chosen_operation(document, operation_name)
    if kind is None:
        return (
            "name the operation to run in operationName: the document holds several, "
            "or none by that name",
            Code.BAD_REQUEST,
        )
    if kind is not OperationType.SUBSCRIPTION:
        return (
            f"only subscriptions run over the WebSocket: send this {kind.value} over "
            "HTTP (POST to this URL)",
            Code.BAD_REQUEST,
        )
    return None


def _reader(max_bytes: int) -> type[ASGIWebSocketAdapter]:
    class Reader(ASGIWebSocketAdapter):
        """Messages read as the HTTP body is: bounded, and by the client JSON reader."""

        async def iter_json(
            self, *, ignore_parsing_errors: bool = False
        ) -> AsyncGenerator[object, None]:
            try:
                while self.ws.application_state != WebSocketState.DISCONNECTED:
                    text = await self.ws.receive_text()
                    if len(text) > max_bytes or len(text.encode()) > max_bytes:
                        reason = f"a message may be at most {max_bytes} bytes"
                        await self.close(TOO_BIG, reason)
                        return
                    try:
                        value = client_json.loads(text, what="the message")
                    except client_json.ClientJSONError as error:
                        await self.close(BAD_MESSAGE, _reason(error.message))
                        return
                    yield value
            except KeyError as error:  # a binary frame: strawberry closes 4400
                raise NonTextMessageReceived from error
            except WebSocketDisconnect:
                pass

    return Reader


def _headers(request: Any, payload: Mapping[str, Any]) -> dict[str, str]:
    """The handshake's headers, overridden by the string values of the init payload."""
    headers = dict(Headers(scope=request.scope).items()) if request is not None else {}
    for name, value in payload.items():
        if isinstance(name, str) and isinstance(value, str):
            headers[name.lower()] = value
    return headers


def _credentials(headers: Mapping[str, str]) -> Credentials:
    header = headers.get("authorization")
    if not header:
        raise Unauthenticated("send your Twilio credentials as Basic in Authorization")
    try:
        return Credentials.from_basic_header(header)
    except InvalidArgument as error:
        raise Unauthenticated(str(error)) from None


def _reason(message: str) -> str:
    # A close reason is at most 123 bytes.
    return message.encode()[:120].decode(errors="ignore")


def _text(message: ProtocolMessage) -> str:
    try:
        return orjson.dumps(message).decode()
    except TypeError:
        # What orjson refuses (an integer past 64 bits in an upstream JSON value).
        return json.dumps(message)
