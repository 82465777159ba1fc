"""WebSocket messages are read as HTTP bodies are: bounded, and safely, before anyone
has authenticated."""

from __future__ import annotations

import json
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.emulator import Emulator
from tests.support.graphql_ws import PROTOCOL, connected
from tests.support.live import served

#: Far deeper than Python's recursion limit, and well under the size limit.
DEEP = 20_000


async def test_deeply_nested_json_closes_4400_with_the_reason_and_logs_no_error(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    message = '{"type": "connection_init", "payload": {"x": ' + "[" * DEEP + "]" * DEEP + "}}"
    async with served(emulator) as gateway:
        async with connect(gateway.url, subprotocols=[PROTOCOL]) as socket:
            await socket.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
        async with connected(gateway.url):
            pass  # the server is well
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert closed.value.rcvd.reason == "the message nests deeper than 64 levels"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"type": "connection_init", "payload": {"n": NaN}}', "the message holds NaN"),
        ('{"type": "connection_init"', "the message is not valid JSON"),
    ],
)
async def test_a_message_that_is_not_json_closes_4400_with_the_reason(
    emulator: Emulator, text: str, reason: str
) -> None:
    async with served(emulator) as gateway:
        async with connect(gateway.url, subprotocols=[PROTOCOL]) as socket:
            await socket.send(text)
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert closed.value.rcvd.reason.startswith(reason)


async def test_a_message_over_the_body_limit_closes_1009_unread(emulator: Emulator) -> None:
    limit = 4096
    padded = {"type": "connection_init", "payload": {"pad": "x" * limit}}
    # uvicorn's own bound (`ws_max_size`, tests/app/test_server.py) out of the way:
    # this is the app's, for a server run without it.
    big = {"ws_max_size": 16 * limit}
    async with served(emulator, max_body_bytes=limit, uvicorn_options=big) as gateway:
        async with connect(gateway.url, subprotocols=[PROTOCOL]) as socket:
            await socket.send(json.dumps(padded))
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
        async with connected(gateway.url, {"pad": "x" * (limit // 2)}):
            pass  # under the limit: let in
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert closed.value.rcvd.reason == f"a message may be at most {limit} bytes"
