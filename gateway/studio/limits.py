"""Account-wide limits on upstream calls, and the seams a shared store plugs into.

Twilio caps REST-created executions at 20 a second per account, and it is the
account that counts, not one process. The transport asks a `RateLimiter`
before each create and a `Semaphore` around every call. The defaults here
hold per process; a store shared by every replica (Redis, `gateway.shared`)
implements the same protocols, so this layer never imports what lies above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from gateway.studio.window import Clock


@dataclass(frozen=True, slots=True)
class Admission:
    """A rate limiter's answer: go after `wait` seconds, or (refused) retry after it."""

    granted: bool
    wait: float


class RateLimiter(Protocol):
    """Tokens by key; `reserve` takes the next one if it comes within `max_wait`."""

    async def reserve(self, key: str, max_wait: float) -> Admission: ...


class Semaphore(Protocol):
    """At most some number of holders at once, by key."""

    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class TokenBucket:
    """A token bucket per key, in this process: `rate` tokens a second, `burst` at most.

    A reservation may run the bucket below zero: the caller waits for its own
    token, and callers are served in the order they asked.
    """

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and room for one token")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, burst={self.burst})"

    async def reserve(self, key: str, max_wait: float) -> Admission:
        return self.reserve_now(key, max_wait)

    def reserve_now(self, key: str, max_wait: float) -> Admission:
        now = self._clock()
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        wait = max(0.0, (1 - tokens) / self.rate)
        if wait > max_wait:
            self._buckets[key] = (tokens, now)
            return Admission(False, wait)
        self._buckets[key] = (tokens - 1, now)
        return Admission(True, wait)


def create_burst(rate: float) -> float:
    """How many creates may go at once: half a second's worth.

    Twilio does not say how it counts its limit. Holding bursts to half of
    what a second allows leaves room for creates that leave together but
    arrive apart (network and scheduling jitter), so a steady `rate` a second
    never reaches Twilio faster than it accepts.
    """
    return max(1.0, math.floor(rate / 2))


class LocalSemaphore:
    """At most `limit` holders per key in this process."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a semaphore needs at least one slot")
        self.limit = limit
        self._slots: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        slots = self._slots.setdefault(key, asyncio.Semaphore(self.limit))
        async with slots:
            yield
