"""Fixtures for the emulator's tests: a seeded emulator, an in-process client and
a real uvicorn server on a free local port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from gateway.emulator import Emulator, create_app
from tests.support import AUTH, SEEDED_AT, LiveServer, SwitchableApp


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
