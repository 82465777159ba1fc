"""Helpers the test suites share: a real uvicorn server on 127.0.0.1, and waiting
on what a test can observe instead of on the clock."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import uvicorn

from gateway.emulator import Emulator

#: How long a condition may take to come true, or an operation may run past its
#: deadline, on a loaded two-core CI machine. What the tests guard against lasts
#: far longer: a hung upstream holds on for an hour, a wait they refuse is
#: minutes, so ending within this still proves the point.
SLACK = 5.0
#: How much before its time a timer may fire (clock resolution and rounding).
EARLY = 0.05


def free_port() -> int:
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
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def two_widget_flow(
    description: str = "A tiny flow", body: str = "Hello {{flow.data.name}}"
) -> dict[str, Any]:
    """The smallest valid flow definition: a REST trigger, then one message."""
    return {
        "description": description,
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingRequest", "next": "hello"}],
                "properties": {"offset": {"x": 0, "y": 0}},
            },
            {
                "name": "hello",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {"body": body, "offset": {"x": 0, "y": 200}},
            },
        ],
    }


async def until(condition: Callable[[], bool | Awaitable[bool]], seconds: float = SLACK) -> None:
    """Poll a condition another task or thread (a server) makes true; fail after `seconds`.

    The condition may be a coroutine function (one that asks a server, say).
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + seconds
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() > give_up:
            raise AssertionError(f"the condition did not come true within {seconds} s")
        await asyncio.sleep(0.005)


def until_blocking(condition: Callable[[], bool], seconds: float = SLACK) -> None:
    """`until` for synchronous tests: poll from this thread."""
    give_up = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"the condition did not come true within {seconds} s")
        time.sleep(0.005)


@contextlib.asynccontextmanager
async def ends_at(seconds: float) -> AsyncIterator[None]:
    """The block must end `seconds` after it starts: not before (less `EARLY`), and
    within `SLACK` after. A block still running then is stopped and fails, so a
    broken deadline fails the test instead of hanging it. `ends_at(0)`: at once.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    limit = asyncio.timeout(seconds + SLACK)
    try:
        async with limit:
            yield
    except TimeoutError:
        if limit.expired():
            raise AssertionError(f"still running {seconds + SLACK} s after it began") from None
        raise
    elapsed = loop.time() - started
    assert elapsed >= seconds - EARLY, f"ended after {elapsed:.3f} s, before its {seconds} s"


@contextlib.contextmanager
def paused(emulator: Emulator) -> Iterator[None]:
    """Hold the emulator's requests in flight for the block (see `Emulator.paused`)."""
    emulator.paused = True
    try:
        yield
    finally:
        emulator.paused = False
