"""Helpers the test suites share: a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
import uvicorn


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
        client = self.client()
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
