"""A deadline for a whole GraphQL operation, and an end to work nobody will read.

`RequestDeadline` (a schema extension; pass the class) gives each query or
mutation `context.request_deadline` seconds. `CancelOnDisconnect` (ASGI
middleware) ends a request's upstream calls when its HTTP client goes away.

How: neither touches the execution. Both work one layer down, on the upstream
calls, through a `gateway.studio.call_scope`: the extension opens a scope
ending at the deadline around execution; every `Transport` call made inside
it, in whatever task (DataLoader batches run in tasks of their own, which
inherit the scope through `contextvars`), is bounded by it. When the deadline
passes, each call still waiting fails as an ordinary upstream timeout, so the
resolvers' usual error path turns it into that field's `UPSTREAM_TIMEOUT`
error, graphql-core completes the response with everything that did resolve,
and the response goes out. Later calls in the scope fail without a request.

Why not the alternatives: a `resolve` hook would wrap every field (and an
async one makes every field async: docs/ARCHITECTURE.md, "The hot path");
running execution under
`asyncio.timeout` cancels it whole and loses the partial result, and leaves
the DataLoader batch tasks, which the request's task does not own, calling
Twilio. Ending the calls themselves needs no new task and no per-field cost,
and every field still waiting at the deadline is waiting on Twilio: resolvers
only ask loaders.

With `@defer` or `@stream` the operation goes on after `on_execute`: its later
parts are computed while the answer streams. So the scope stays current until
the operation ends, and a deferred part still waiting at the deadline gets its
`UPSTREAM_TIMEOUT` like any field; `CancelOnDisconnect` watches until the last
byte of the answer is sent, not just the first.

A read shared with another request (single flight) goes on for that request;
this one just stops waiting for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from gateway.studio import CallScope, call_scope, current_scope, enter_scope

__all__ = ["CancelOnDisconnect", "RequestDeadline"]


class RequestDeadline(SchemaExtension):
    """Bound a query or mutation by `context.request_deadline` seconds (None: no bound).

    The clock starts when the operation does (parsing and validation count).
    Subscriptions are left alone: they are meant to last.
    """

    _started: float | None = None

    def on_operation(self) -> Iterator[None]:
        self._started = asyncio.get_running_loop().time()
        outer = current_scope()
        try:
            yield
        finally:
            # set in `on_execute`, current until the operation's last part (see above)
            enter_scope(outer)

    def on_execute(self) -> Iterator[None]:
        seconds = getattr(self.execution_context.context, "request_deadline", None)
        if seconds is not None and not self._subscription():
            loop = asyncio.get_running_loop()
            started = self._started if self._started is not None else loop.time()
            deadline = max(loop.time(), started + seconds)
            enter_scope(CallScope(deadline, current_scope()))
        yield

    def _subscription(self) -> bool:
        try:
            return self.execution_context.operation_type is OperationType.SUBSCRIPTION
        except Exception:  # no document or no such operation: execution will say so
            return False


class CancelOnDisconnect:
    """ASGI middleware: when the client disconnects before the whole response is
    sent (a streamed one included), end every upstream call the request still
    has in flight, and refuse new ones.

    The request's resolvers then fail fast and the handler returns; nothing is
    cancelled from outside. Wrap the `/graphql` endpoint (or the whole app):
    `Route("/graphql", CancelOnDisconnect(graphql), ...)`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One reader of `receive`: it hands the app the request's messages and
        # is still listening, after the body, when the client goes away.
        messages: asyncio.Queue[Message] = asyncio.Queue()
        answered = gone = False

        with call_scope() as calls:

            async def listen() -> None:
                nonlocal gone
                while not gone:
                    message = await receive()
                    messages.put_nowait(message)
                    gone = message["type"] == "http.disconnect"
                if not answered:
                    calls.cancel()

            async def app_receive() -> Message:
                if gone and messages.empty():
                    return {"type": "http.disconnect"}
                return await messages.get()

            async def app_send(message: Message) -> None:
                nonlocal answered
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    answered = True
                await send(message)

            listener = asyncio.create_task(listen())
            try:
                await self.app(scope, app_receive, app_send)
            finally:
                listener.cancel()
                await asyncio.wait({listener})
