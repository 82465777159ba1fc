"""Several real `studio-gateway serve` processes on one Redis that the test starts itself.

The emulator runs in the test's process (on a socket), so its counters are
read directly; each replica is its own process; Redis is a `redis-server`
subprocess on a free port, killed (or restarted) by the test.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from gateway.emulator import Emulator, create_app
from tests.app.conftest import Served, gateway_process
from tests.support import free_port, serve


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


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def upstream(emulator: Emulator) -> Iterator[str]:
    with serve(create_app(emulator)) as url:
        yield url


@dataclass
class Replicas:
    """Gateway processes sharing one Redis, and a GraphQL client for them."""

    served: list[Served]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def url(self, index: int) -> str:
        return f"{self.served[index].url}/graphql"

    def query(self, index: int, document: str, variables: dict[str, Any] | None = None) -> Any:
        response = self.http.post(
            self.url(index), json={"query": document, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, index: int, document: str, variables: dict[str, Any] | None = None) -> Any:
        result = self.query(index, document, variables)
        assert "errors" not in result, result["errors"]
        return result["data"]


@contextlib.contextmanager
def replicas(count: int, upstream: str, redis_url: str, **env: str) -> Iterator[Replicas]:
    """`count` gateways on one upstream and one Redis, with these settings."""
    with contextlib.ExitStack() as stack:
        served = [
            stack.enter_context(
                gateway_process(upstream, STUDIO_GATEWAY_REDIS_URL=redis_url, **env)
            )
            for _ in range(count)
        ]
        group = Replicas(served)
        stack.callback(group.http.close)
        yield group
