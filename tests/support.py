"""Helpers the test suites share: a real uvicorn server on 127.0.0.1, waiting on
what a test can observe instead of on the clock, and multipart answers."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any

import httpx
import redis
import uvicorn

from gateway.emulator import Emulator

#: How long a condition may take to come true, or an operation may run past its
#: deadline, on a loaded two-core CI machine. What the tests guard against lasts
#: far longer: a hung upstream holds on for an hour, a wait they refuse is
#: minutes, so ending within this still proves the point.
SLACK = 5.0
#: How much before its time a timer may fire (clock resolution and rounding).
EARLY = 0.05

#: What Apollo Client sends for a query with `@defer`.
MULTIPART_ACCEPT = "multipart/mixed;deferSpec=20220824,application/json"


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


@dataclass
class RedisServer:
    """A throwaway `redis-server`: no persistence, its own port, stoppable and restartable."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start") from None
                time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def dump(self) -> dict[bytes, bytes]:
        """Every key and its value as bytes (hashes and sets joined), for grepping."""
        client: Any = self.client()  # bytes in, bytes out: no decode_responses
        values: dict[bytes, bytes] = {}
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"string":
                values[key] = client.get(key) or b""
            elif kind == b"hash":
                values[key] = b" ".join(k + b"=" + v for k, v in client.hgetall(key).items())
            elif kind == b"set":
                values[key] = b" ".join(client.smembers(key))
            elif kind == b"zset":
                values[key] = b" ".join(client.zrange(key, 0, -1))
            else:
                values[key] = b""
        return values


async def drop_keys(url: str, prefix: str) -> None:
    """Delete every key under `prefix` in the Redis at `url` (a test's own namespace)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def codes(body: dict[str, Any]) -> list[str]:
    """The `extensions.code` of each error in a GraphQL answer, in order."""
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


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


async def multipart_parts(response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON parts of a `multipart/mixed` answer, each as soon as it has arrived.

    Written from RFC 2046 for the tests, not shared with the gateway: each part
    must be `application/json; charset=utf-8`, and the body must end with the
    close delimiter.
    """
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/mixed"), content_type
    boundary = content_type.split("boundary=", 1)[1].split(";", 1)[0].strip().strip('"')
    delimiter = b"\r\n--" + boundary.encode()
    buffer = b"\r\n"  # the first delimiter opens the body without a line break before it
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while (start := buffer.find(delimiter)) >= 0 and (
            end := buffer.find(delimiter, start + len(delimiter))
        ) >= 0:
            part, buffer = buffer[start + len(delimiter) : end], buffer[end:]
            head, _, body = part.partition(b"\r\n\r\n")
            headers = dict(
                line.split(": ", 1) for line in head.decode().strip().split("\r\n") if line
            )
            assert headers["Content-Type"] == "application/json; charset=utf-8", headers
            yield json.loads(body)
    assert buffer.rstrip() == delimiter + b"--", buffer


async def read_multipart(response: httpx.Response) -> list[dict[str, Any]]:
    return [part async for part in multipart_parts(response)]


def plain(document: str) -> str:
    """The same document without `@defer` and `@stream`: whose answer the parts must make."""
    return re.sub(r"@\s*(defer|stream)\b(\s*\([^)]*\))?", "", document)


def merge_parts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole answer the parts make (deferSpec=20220824): each piece at its `path`."""
    data = copy.deepcopy(parts[0]["data"])
    errors = list(parts[0].get("errors", []))
    for part in parts[1:]:
        for piece in part.get("incremental", []):
            errors.extend(piece.get("errors", []))
            *above, last = piece["path"] or [None]
            if "items" in piece:
                items = _at(data, above)
                assert len(items) == last, "a stream's items arrive in order"
                items.extend(piece["items"] or [])
            elif piece["data"] is None:
                _at(data, above)[last] = None
            else:
                _merge(_at(data, piece["path"]), piece["data"])
    return {"data": data, **({"errors": errors} if errors else {})}


def _at(data: Any, path: list[Any]) -> Any:
    for key in path:
        data = data[key]
    return data


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
