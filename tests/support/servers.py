"""Serving an app for a test: a free port, uvicorn on 127.0.0.1 in a thread, an
httpx client over ASGI inside the app's lifespan, and one long-lived server
whose app a test switches."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any, *, port: int | None = None, **options: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yield its base URL.

    `options` go to `uvicorn.Config` as they are (`root_path`, `http`, …)."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="auto",
        loop="asyncio",
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def with_state(app: Any, state: Mapping[str, Any]) -> Any:
    """`app` with the lifespan's `state` in each request's scope, as a server hands it
    (httpx's ASGI transport runs no lifespan and hands none)."""

    async def stateful(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(state)}
        await app(scope, receive, send)

    return stateful


@contextlib.asynccontextmanager
async def asgi_client(
    app: Any, *, base_url: str = "http://gw.test", root_path: str = ""
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client to a Starlette app over ASGI, inside the app's lifespan."""
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=with_state(app, state or {}), root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
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
        deadline = time.monotonic() + 60
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
