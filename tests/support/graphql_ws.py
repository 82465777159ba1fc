"""A graphql-transport-ws client for the tests, over the `websockets` package.

Written from graphql-ws's PROTOCOL.md for the tests, not shared with the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"


@dataclass
class Operation:
    """What the server sent for one subscription: `next` payloads, then how it ended."""

    id: str
    results: list[dict[str, Any]] = field(default_factory=list)
    #: `complete`, or the payload of an `error` message.
    ended: Any = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def data(self) -> list[Any]:
        return [next(iter(r["data"].values())) for r in self.results if r.get("data")]

    @property
    def errors(self) -> list[dict[str, Any]]:
        found = [e for r in self.results for e in r.get("errors", [])]
        return found + (self.ended if isinstance(self.ended, list) else [])


@dataclass
class Client:
    socket: ClientConnection
    operations: dict[str, Operation] = field(default_factory=dict)
    pings: int = 0
    _next: int = 0

    async def subscribe(
        self,
        query: str | None,
        variables: dict[str, Any] | None = None,
        **payload: Any,
    ) -> Operation:
        """Start an operation; `payload` adds to the message's (`extensions`, `operationName`)."""
        self._next += 1
        operation = self.operations[str(self._next)] = Operation(str(self._next))
        message = {"variables": variables or {}, **payload}
        if query is not None:
            message["query"] = query
        await self.send({"id": operation.id, "type": "subscribe", "payload": message})
        return operation

    async def complete(self, operation: Operation) -> None:
        await self.send({"id": operation.id, "type": "complete"})

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def read(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # the server's close code is the socket's
            await self._read()

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            kind = message["type"]
            if kind == "ping":
                self.pings += 1
                await self.send({"type": "pong"})
                continue
            operation = self.operations.get(message.get("id", ""))
            if operation is None:
                continue
            if kind == "next":
                operation.results.append(message["payload"])
            elif kind in ("complete", "error"):
                operation.ended = message.get("payload", "complete")
                operation.done.set()


async def handshake(socket: ClientConnection, payload: dict[str, Any] | None = None) -> Any:
    """`connection_init`; the server's answer (`connection_ack`)."""
    await socket.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    return json.loads(await socket.recv())


@asynccontextmanager
async def connected(
    url: str, payload: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[Client]:
    """A connection that has been acknowledged, reading in the background."""
    async with connect(url, subprotocols=[PROTOCOL], **options) as socket:
        ack = await handshake(socket, payload)
        assert ack["type"] == "connection_ack", ack
        client = Client(socket)
        reader = asyncio.create_task(client.read())
        try:
            yield client
        finally:
            reader.cancel()
