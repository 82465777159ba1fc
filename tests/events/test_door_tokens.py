"""A token's expiry holds on an open WebSocket, not only at `connection_init`."""

from __future__ import annotations

import secrets
import time

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.emulator import Emulator
from tests.support import SLACK, until
from tests.support.graphql_ws import PROTOCOL, connected, handshake
from tests.support.live import UPDATES, served

SECRET = secrets.token_urlsafe(48)
JWT = {"auth": "jwt", "jwt_key": SECRET, "jwt_algorithms": "HS256", "jwt_leeway": 0}
#: Seconds the test's token lives.
LIFE = 2


def short_lived_token() -> str:
    claims = {"sub": "agent-3", "exp": int(time.time()) + LIFE, "scope": "executions:read"}
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def test_a_connection_is_closed_when_its_token_expires_and_cannot_come_back_with_it(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    bearer = {"Authorization": f"Bearer {short_lived_token()}"}
    async with served(emulator, websocket_ping_interval=0.05, **JWT) as gateway:
        async with connected(gateway.url, bearer) as client:
            updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
            await until(lambda: bool(updates.results))
            # The pings keep it alive; the token's expiry does not.
            await until(lambda: client.socket.close_code is not None, seconds=SLACK + LIFE)
            await until(lambda: gateway.subscribers == 0)
        async with connect(gateway.url, subprotocols=[PROTOCOL]) as socket:
            with pytest.raises(ConnectionClosed) as again:
                await handshake(socket, bearer)
    assert client.socket.close_code == 4403
    assert client.socket.close_reason == "the token has expired; connect again"
    assert not updates.errors
    assert again.value.rcvd is not None and again.value.rcvd.code == 4403
    assert "expired" in again.value.rcvd.reason
