"""Fixtures for the emulator's tests: a seeded emulator, an in-process client and
a real uvicorn server on a free local port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app

# Seeded history is laid out before this moment, so every test sees the same data.
SEEDED_AT = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
AUTH = (DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)


@pytest.fixture
def emulator() -> Emulator:
    return Emulator.seeded(seed=7, now=SEEDED_AT)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client talking to the emulator in-process."""
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", auth=AUTH
    ) as http:
        yield http


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread."""

    def __init__(self, app: ASGIApp) -> None:
        # IPPROTO_TCP explicitly: asyncio disables Nagle only on sockets whose proto says TCP,
        # and without that every keep-alive request waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="critical", lifespan="off", ws="none", http="h11", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()


class SwitchableApp:
    """One long-lived server, a different app per test: starting uvicorn per test
    would cost more than the tests themselves."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no app is being served")
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _shared_server() -> Iterator[tuple[LiveServer, SwitchableApp]]:
    switch = SwitchableApp()
    server = LiveServer(switch)
    server.start()
    yield server, switch
    server.stop()


@pytest.fixture
def serve(
    _shared_server: tuple[LiveServer, SwitchableApp],
) -> Iterator[Callable[[Emulator], LiveServer]]:
    """Serve an emulator on a real socket for the rest of the test."""
    server, switch = _shared_server

    def start(emulator: Emulator) -> LiveServer:
        switch.app = create_app(emulator)
        return server

    yield start
    switch.app = None


@pytest.fixture
def live_server(emulator: Emulator, serve: Callable[[Emulator], LiveServer]) -> LiveServer:
    return serve(emulator)
