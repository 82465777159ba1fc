"""graphql-transport-ws as the gateway speaks it: its handler and its message reader.

See `gateway.websocket` for the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

import orjson
from graphql import GraphQLError, OperationType, parse
from starlette.datastructures import Headers
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
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
from gateway.graphql.update_reads import UpdateReads
from gateway.loaders import Loaders
from gateway.security import client_json
from gateway.security.auth import Authenticator, Unauthenticated
from gateway.security.codes import Code
from gateway.security.gate import MAX_GET_TOKENS, chosen_operation
from gateway.security.persisted import PersistedError, PersistedQueries
from gateway.security.principal import Principal, quota_key
from gateway.studio import Credentials, InvalidArgument
from gateway.websocket.connections import (
    BAD_MESSAGE,
    EXPIRED,
    FORBIDDEN,
    SEAT,
    TOO_BIG,
    Refusal,
    Seat,
)

__all__ = ["handler", "reader"]

#: The context of the operation whose task this is (see `Handler.context`).
_OPERATION_CONTEXT: ContextVar[Context | None] = ContextVar(
    "gateway_websocket_operation", default=None
)


class LiveGateway(Protocol):
    """What a connection needs of the gateway (`gateway.app.Gateway`)."""

    live: Live | None
    updates: UpdateReads

    def loaders(self, credentials: Credentials | None = None) -> Loaders: ...


def handler(
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

        # The connection's context, and in an operation's task that operation's own
        # copy: the loaders a subscription sets for each update it resolves
        # (`gateway.graphql.update_reads`) are its own, never another operation's
        # of the same connection, running at the same time.
        @property
        def context(self) -> Context:
            own = _OPERATION_CONTEXT.get()
            return own if own is not None else self._connection_context

        @context.setter
        def context(self, value: Context) -> None:
            self._connection_context = value

        async def run_operation(self, operation: Operation[Context, None]) -> None:
            # The operation's task (strawberry starts one each): a copy for it alone.
            _OPERATION_CONTEXT.set(dataclasses.replace(self._connection_context))
            await super().run_operation(operation)

        async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
            payload = message.get("payload") or {}
            if isinstance(payload, dict) and not self.connection_init_received:
                try:
                    refusal = self._take_room(await self._admit(payload))
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

        def _seat(self) -> Seat | None:
            seat: Seat | None = self.context.request.scope.get(SEAT)
            return seat

        def _take_room(self, principal: Principal) -> Refusal | None:
            seat = self._seat()
            if seat is None:
                return None
            client = self.context.request.client
            return seat.admit(quota_key(principal, client.host if client else None))

        async def _admit(self, payload: dict[str, Any]) -> Principal:
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
            self.context.updates = owner.updates
            return principal

        async def handle_subscribe(self, message: SubscribeMessage) -> None:
            if not self.connection_acknowledged:
                await super().handle_subscribe(message)  # closes: 4401
                return
            expires_at = self.context.principal.expires_at
            if expires_at is not None and time.time() >= expires_at:
                await self.websocket.close(code=FORBIDDEN, reason=EXPIRED)
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
            if message["id"] in self.operations:
                await super().handle_subscribe(message)  # closes: 4409
                return
            give_back = self._take_subscription()
            if give_back is None:
                most = self._most_subscriptions()
                await self._refuse(
                    message["id"],
                    f"these credentials already run {most} subscriptions on this replica, "
                    "their most (STUDIO_GATEWAY_WEBSOCKET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL): "
                    "complete one first",
                    Code.RATE_LIMITED,
                    limit=most,
                )
                return
            try:
                await self._subscribe(message)
            finally:
                # Given back when the operation ends, however it ends; at once if none ran.
                operation = self.operations.get(message["id"])
                if operation is not None and operation.task is not None:
                    operation.task.add_done_callback(lambda _: give_back())
                else:
                    give_back()

        def _take_subscription(self) -> Callable[[], None] | None:
            seat = self._seat()
            return seat.subscription() if seat is not None else (lambda: None)

        def _most_subscriptions(self) -> int:
            seat = self._seat()
            return seat.limits.subscriptions_per_principal if seat is not None else 0

        async def _subscribe(self, message: SubscribeMessage) -> None:
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
            await self.websocket.close(code=FORBIDDEN, reason=EXPIRED)

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


def reader(max_bytes: int) -> type[ASGIWebSocketAdapter]:
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
