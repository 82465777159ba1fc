"""Silent WebSocket connections cannot keep authenticated clients out."""

from __future__ import annotations

from websockets.asyncio.client import connect

from gateway.emulator import Emulator
from tests.support import until
from tests.support.graphql_ws import PROTOCOL, connected
from tests.support.live import UPDATES, served


async def test_a_connection_silent_past_the_init_timeout_is_closed_4408(
    emulator: Emulator,
) -> None:
    async with (
        served(emulator, websocket_init_timeout=0.1) as gateway,
        connect(gateway.url, subprotocols=[PROTOCOL]) as silent,
    ):
        await until(lambda: silent.close_code is not None)
    assert silent.close_code == 4408


async def test_silent_connections_take_no_authenticated_room_and_make_way_for_new_ones(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with served(
        emulator, websocket_max_connections=2, websocket_max_pending=2, websocket_init_timeout=60
    ) as gateway:
        async with connected(gateway.url) as first:
            silent = [await connect(gateway.url, subprotocols=[PROTOCOL]) for _ in range(4)]
            try:
                # The two oldest silent ones made room for the two newest.
                await until(lambda: [s.close_code for s in silent[:2]] == [4408, 4408])
                assert [s.close_code for s in silent[2:]] == [None, None]
                async with connected(gateway.url) as second:
                    updates = await second.subscribe(
                        UPDATES, {"flow": flow, "execution": execution}
                    )
                    await until(lambda: bool(updates.results))
                    assert first.socket.close_code is None
            finally:
                for socket in silent:
                    await socket.close()
    assert "newer connections needed the room" in (silent[0].close_reason or "")
    assert not updates.errors
