"""The Redis every replica shares, used only within a short timeout.

Redis makes the replicas one gateway: one cache, one create limit, one bound
on calls in flight. It must never make a request fail. Every command runs
under `timeout`; a failure marks Redis down, and for `retry_interval` seconds
callers skip it at once (each falls back to what its process holds) instead of
each paying the timeout again. The next command after that tries again, and
the first that succeeds marks Redis up: no restart is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.studio.window import Clock

T = TypeVar("T")

logger = logging.getLogger("gateway.shared")

#: Key prefix of everything the gateway keeps in Redis.
DEFAULT_PREFIX = "studio-gateway:"


class RedisUnavailable(Exception):
    """Redis did not answer in time, or is marked down: use the fallback."""


class SharedRedis:
    """A Redis client with a timeout on every command and a memory of whether Redis is up."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.25,
        retry_interval: float = 1.0,
        prefix: str = DEFAULT_PREFIX,
        max_connections: int = 32,
        clock: Clock = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.prefix = prefix
        self._clock = clock
        # A bounded pool: a burst of commands queues for a connection (within `run`'s
        # bound) instead of opening a connection each.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=None,
            # `run` bounds every command; these only end what nobody waits for any more.
            socket_timeout=max(5.0, timeout),
            socket_connect_timeout=max(5.0, timeout),
            # One more try on a broken connection (one left from before a restart of
            # Redis); `run` bounds the time, and the caller has a fallback.
            retry=Retry(NoBackoff(), 1),
        )
        self.client: redis.Redis = redis.Redis(connection_pool=pool)
        self.up = True
        #: Since start: commands that failed or timed out, and times Redis came back.
        self.failures = 0
        self.recoveries = 0
        self._down_until = 0.0
        self._on_recovery: list[Callable[[], Awaitable[None]]] = []

    def __repr__(self) -> str:
        return f"SharedRedis(up={self.up}, timeout={self.timeout})"

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def on_recovery(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` (in the background) each time Redis answers again after failing."""
        self._on_recovery.append(callback)

    def pubsub(self) -> Any:
        """A pub/sub connection that skips subscribe confirmations (typed loosely: its
        annotations differ between redis-py releases)."""
        return self.client.pubsub(ignore_subscribe_messages=True)

    @property
    def usable(self) -> bool:
        """False while Redis is marked down and the retry interval has not passed."""
        return self.up or self._clock() >= self._down_until

    async def run(
        self,
        command: Callable[[redis.Redis], Awaitable[T]],
        *,
        within: float | None = None,
        even_if_down: bool = False,
    ) -> T:
        """`command(client)`'s result within `within` seconds (default: the timeout);
        RedisUnavailable otherwise. While Redis is marked down it is not asked,
        unless `even_if_down` (a command whose fallback costs more than a try)."""
        if not (self.usable or even_if_down):
            raise RedisUnavailable("Redis is marked down")
        task = asyncio.ensure_future(command(self.client))
        try:
            done, _ = await asyncio.wait({task}, timeout=within or self.timeout)
            # A busy process may not have come round to an answer that is already
            # here: give it a few turns of the loop before blaming Redis.
            for _ in range(3):
                if done:
                    break
                await asyncio.sleep(0)
                done = {task} if task.done() else set()
        except BaseException:
            task.cancel()
            raise
        if not done:
            task.cancel()
            self._failed(TimeoutError())
            raise RedisUnavailable("Redis did not answer in time")
        try:
            result = task.result()
        except Exception as error:  # whatever broke, the caller has a fallback
            self._failed(error)
            if isinstance(error, redis.ConnectionError | OSError):
                # The idle connections are as dead as this one: open new ones next time.
                with contextlib.suppress(Exception):
                    await self.client.connection_pool.disconnect(inuse_connections=False)
            raise RedisUnavailable("Redis did not answer") from None
        self._succeeded()
        return result

    async def connect(self) -> None:
        """Open a first connection now (at start), so no request pays for it."""
        await self.ping()

    async def ping(self) -> bool:
        """Whether Redis answers now (tried even while marked down)."""
        self._down_until = 0.0
        try:
            return bool(await self.run(lambda client: client.ping()))
        except RedisUnavailable:
            return False

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.client.connection_pool.disconnect()

    def _failed(self, error: BaseException) -> None:
        self.failures += 1
        self._down_until = self._clock() + self.retry_interval
        if self.up:
            self.up = False
            # The error's class only: its text can hold the URL, and so a password.
            logger.warning(
                "Redis is unreachable; serving from the process alone (%s)", type(error).__name__
            )

    def _succeeded(self) -> None:
        if self.up:
            return
        self.up = True
        self.recoveries += 1
        logger.warning("Redis answers again; the replicas share it again")
        for callback in self._on_recovery:
            _background(callback())


_tasks: set[asyncio.Task[Any]] = set()


def _background(work: Awaitable[None]) -> None:
    async def run() -> None:
        try:
            await work
        except Exception:  # a recovery step failing must not end anything else
            logger.warning("a step after Redis came back failed", exc_info=True)

    task = asyncio.get_running_loop().create_task(run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
