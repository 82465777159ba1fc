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
from starlette.types import ASGIApp

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
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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


@pytest.fixture
def serve() -> Iterator[Callable[[Emulator], LiveServer]]:
    """Start a real server for an emulator; every server is stopped after the test."""
    servers: list[LiveServer] = []

    def start(emulator: Emulator) -> LiveServer:
        server = LiveServer(create_app(emulator))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(emulator: Emulator, serve: Callable[[Emulator], LiveServer]) -> LiveServer:
    return serve(emulator)
