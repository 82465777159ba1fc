"""One client cannot starve the others: a flood of WebSockets from one principal, or of
silent sockets from one address, is refused past its own bound, and every other
client's queries, subscriptions and the probes go on being served.

Real uvicorn (as `studio-gateway serve` runs it), real graphql-transport-ws
WebSockets, the emulator upstream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.emulator import Emulator
from gateway.security.auth import new_key
from tests.support import answer, operation, until
from tests.support.graphql_ws import PROTOCOL, connected, handshake
from tests.support.live import UPDATES, Served, served

FLOOD, FLOOD_HASH = new_key()
ADMIN, ADMIN_HASH = new_key()
KEYS = json.dumps(
    [
        {"name": "low", "sha256": FLOOD_HASH, "scopes": ["executions:read"]},
        {
            "name": "admin",
            "sha256": ADMIN_HASH,
            "scopes": ["flows:read", "executions:read", "pii:read"],
        },
    ]
)
SECURED = {"auth": "api_keys", "api_keys": KEYS}
FLOWS = "{ flows(first: 1) { nodes { sid } } }"
#: Where the flood comes from: another loopback address than everyone else's.
ELSEWHERE = "127.0.0.2"


async def open_socket(url: str, key: str | None = None, **options: Any) -> ClientConnection:
    """A WebSocket that sends `connection_init` with `key` (none: it stays silent)."""
    socket = await connect(url, subprotocols=[PROTOCOL], **options)
    if key is not None:
        try:
            await handshake(socket, {"X-API-Key": key})
        except ConnectionClosed:
            pass  # refused: its close code says why
    return socket


@asynccontextmanager
async def sockets(
    url: str, count: int, key: str | None = None, **options: Any
) -> AsyncIterator[list[ClientConnection]]:
    """`count` WebSockets opened one after the other, closed at the end."""
    async with AsyncExitStack() as stack:
        opened = []
        for _ in range(count):
            socket = await open_socket(url, key, **options)
            stack.push_async_callback(socket.close)
            opened.append(socket)
        yield opened


async def everyone_else_is_served(gateway: Served, emulator: Emulator) -> None:
    """The admin's query and subscription, and both probes, answer."""
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with httpx.AsyncClient(base_url=gateway.http, timeout=10) as http:
        for probe in ("/healthz", "/readyz"):
            assert (await http.get(probe)).status_code == 200, probe
        response = await http.post("/graphql", json=operation(FLOWS), headers={"X-API-Key": ADMIN})
        assert answer(response)["data"]["flows"]["nodes"]
    async with connected(gateway.url, {"X-API-Key": ADMIN}) as admin:
        updates = await admin.subscribe(UPDATES, {"flow": flow, "execution": execution})
        await until(lambda: bool(updates.results))
    assert not updates.errors


async def test_one_principal_cannot_hold_every_websocket(emulator: Emulator) -> None:
    settings = {
        **SECURED,
        "websocket_max_connections_per_principal": 4,
        # Room for the whole flood on the replica, and HTTP slots it would have taken.
        "websocket_max_connections": 50,
        "max_connections": 8,
    }
    async with served(emulator, **settings) as gateway, sockets(gateway.url, 20, FLOOD) as flood:
        await until(lambda: sum(s.close_code is not None for s in flood) >= 16)
        kept = [s for s in flood if s.close_code is None]
        refused = [s for s in flood if s.close_code is not None]
        await everyone_else_is_served(gateway, emulator)
    assert len(kept) == 4
    assert {s.close_code for s in refused} == {1008}
    assert "their most WebSocket connections here (4)" in (refused[0].close_reason or "")


async def test_websockets_take_none_of_the_http_slots(emulator: Emulator) -> None:
    async with (
        served(emulator, **SECURED, max_connections=3) as gateway,
        sockets(gateway.url, 6, FLOOD) as held,
    ):
        assert all(s.close_code is None for s in held)
        await everyone_else_is_served(gateway, emulator)


async def test_silent_sockets_from_one_address_are_refused_past_its_bound(
    emulator: Emulator,
) -> None:
    settings = {
        **SECURED,
        "websocket_max_pending_per_address": 3,
        "websocket_init_timeout": 60,
    }
    async with (
        served(emulator, **settings) as gateway,
        sockets(gateway.url, 8, local_addr=(ELSEWHERE, 0)) as silent,
    ):
        await until(lambda: sum(s.close_code is not None for s in silent) == 5)
        assert [s.close_code for s in silent[:3]] == [None, None, None]
        await everyone_else_is_served(gateway, emulator)
    assert {s.close_code for s in silent[3:]} == {1008}
    assert "most connections (3) awaiting connection_init" in (silent[3].close_reason or "")


async def test_one_principal_runs_at_most_its_subscriptions_over_all_its_connections(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    settings = {**SECURED, "websocket_max_subscriptions_per_principal": 3}
    async with (
        served(emulator, **settings) as gateway,
        connected(gateway.url, {"X-API-Key": FLOOD}) as first,
        connected(gateway.url, {"X-API-Key": FLOOD}) as second,
    ):
        running = [await c.subscribe(UPDATES, variables) for c in (first, second, first)]
        await until(lambda: all(op.results for op in running))
        refused = await second.subscribe(UPDATES, variables)
        await until(refused.done.is_set)
        await everyone_else_is_served(gateway, emulator)
        await first.complete(running[0])
        await until(lambda: gateway.subscribers == 2)
        again = await second.subscribe(UPDATES, variables)
        await until(lambda: bool(again.results))
    (error,) = refused.errors
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "already run 3 subscriptions" in error["message"]
    assert not again.errors and not any(op.errors for op in running)
