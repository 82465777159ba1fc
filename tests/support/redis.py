"""Redis for the tests: the shared one every suite uses, a throwaway `redis-server`
of a test's own, and cleaning up a test's keys."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Any

import redis

#: The real Redis every suite uses (`.ci/run` starts one).
REDIS_URL = "redis://127.0.0.1:6379/0"


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
