"""Account-wide limits on upstream calls, and the seams a shared store plugs into.

Twilio caps REST-created executions at 20 a second per account, and it is the
account that counts, not one process. Twilio documents the number, not how it
counts: a token bucket lets a burst and a second's refill through in one
second, a fixed window two seconds' worth across a second's edge. Keeping
every one-second window, wherever it starts, within the rate fits all of them.

The transport asks a `RateLimiter` for a place before each create and hands
it back when Twilio answers, and holds a `Semaphore` around every call. The
defaults here hold per process; a store shared by every replica (Redis,
`gateway.shared`) implements the same protocols, so this layer never imports
what lies above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from gateway.studio.window import Clock

#: Tickets of a process's own window; a shared window tells them from its own by this.
LOCAL_TICKET: Final = "local:"
#: The shortest pause before a waiter looks at the window again.
_MIN_PAUSE: Final = 0.001


@dataclass(frozen=True, slots=True)
class Admission:
    """A rate limiter's answer: go now, holding `ticket` (having waited `wait`
    seconds), or (refused) try again after `wait` seconds."""

    granted: bool
    wait: float
    ticket: str = ""


class RateLimiter(Protocol):
    """Places in a sliding window, by key (an account).

    `acquire` takes a place, waiting up to `max_wait` for one; `release` says
    the call holding `ticket` has had its answer. Until then the place stays
    taken (up to a lease): the upstream counted the call at some moment
    between its leaving and its answer, so it counts here from the one until a
    window's span after the other, and no network delay can bunch calls that
    left a window apart into one window upstream.
    """

    async def acquire(self, key: str, max_wait: float) -> Admission: ...

    async def release(self, key: str, ticket: str) -> None: ...


class Semaphore(Protocol):
    """At most some number of holders at once, by key."""

    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class Window:
    """At most `places` calls in any `span` seconds."""

    places: int
    span: float

    def __post_init__(self) -> None:
        if self.places < 1 or self.span <= 0:
            raise ValueError("a window needs at least one place and a positive span")

    @classmethod
    def per_second(cls, rate: float) -> Window:
        """The window that never holds more than `rate` calls in any one second.

        A fractional rate above 1 rounds down (20.5 a second is 20 in any
        second); below 1 a call may go once every 1/rate seconds.
        """
        if rate <= 0:
            raise ValueError("a rate limit needs a positive rate")
        if rate >= 1:
            return cls(math.floor(rate), 1.0)
        return cls(1, 1.0 / rate)

    @property
    def gap(self) -> float:
        """The average time between two calls at the window's full rate."""
        return self.span / self.places


Try = Callable[[], Awaitable[tuple[str | None, float]]]


class Turns:
    """A process's callers waiting for a window, served in the order they came.

    A caller tries the window at once unless others already wait; refused, it
    joins the line. Only the first in line looks at the window again, when
    the window said a place may free, so a wait costs a few looks, not one
    per waiter.
    """

    def __init__(self, window: Window) -> None:
        self.window = window
        self._lines: dict[str, deque[asyncio.Future[None]]] = {}

    async def wait(self, key: str, max_wait: float, attempt: Try) -> Admission:
        """Take a place by `attempt` within `max_wait` seconds, or say when to try again."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + max(0.0, max_wait)
        pause: float | None = None  # how long until a place may free, once known
        if not self._lines.get(key):
            ticket, pause = await attempt()
            if ticket is not None:
                return Admission(True, loop.time() - started, ticket)
            pause = max(pause, _MIN_PAUSE)
            if started + pause > deadline:
                return Admission(False, pause)
        line = self._lines.setdefault(key, deque())
        turn: asyncio.Future[None] = loop.create_future()
        line.append(turn)
        try:
            if line[0] is not turn:
                await asyncio.wait([turn], timeout=max(0.0, deadline - loop.time()))
                if line[0] is not turn:
                    # Those ahead will go first, about one per `gap`.
                    return Admission(False, line.index(turn) * self.window.gap)
                pause = None  # the one before has just gone: look at once
            while True:
                if pause is not None:
                    pause = max(pause, _MIN_PAUSE)
                    if loop.time() + pause > deadline:
                        return Admission(False, pause)
                    await asyncio.sleep(pause)
                ticket, pause = await attempt()
                if ticket is not None:
                    return Admission(True, loop.time() - started, ticket)
        finally:
            line.remove(turn)
            if line:
                if not line[0].done():
                    line[0].set_result(None)
            else:
                del self._lines[key]


class SlidingWindow:
    """A `RateLimiter` in this process: a window of places per key.

    A place is taken until `window.span` seconds after `release`, or until
    `lease` seconds after it was taken when no release comes (an attempt
    that got no answer: the upstream may still count it late).
    """

    def __init__(self, window: Window, *, lease: float, clock: Clock = time.monotonic) -> None:
        self.window = window
        self.lease = max(lease, window.span)
        self._clock = clock
        self._taken: dict[str, dict[str, float]] = {}  # key -> ticket -> when it frees
        self._numbers = itertools.count()
        self._turns = Turns(window)

    def __repr__(self) -> str:
        return f"SlidingWindow(places={self.window.places}, span={self.window.span})"

    async def acquire(self, key: str, max_wait: float) -> Admission:
        return await self._turns.wait(key, max_wait, lambda: self._take(key))

    async def _take(self, key: str) -> tuple[str | None, float]:
        return self.take(key)

    def take(self, key: str) -> tuple[str | None, float]:
        """A place now (its ticket, 0), or (None, the soonest one may come free)."""
        now = self._clock()
        taken = self._taken.setdefault(key, {})
        for ticket, frees in list(taken.items()):
            if frees <= now:
                del taken[ticket]
        places, span = self.window.places, self.window.span
        if len(taken) < places:
            ticket = f"{LOCAL_TICKET}{next(self._numbers)}"
            taken[ticket] = now + self.lease
            return ticket, 0.0
        # The place that frees first among those that must free: a call not yet
        # answered frees a span after its answer at the soonest.
        frees = sorted(taken.values())[len(taken) - places]
        return None, min(frees, now + span) - now

    async def release(self, key: str, ticket: str) -> None:
        self.give_back(key, ticket)

    def give_back(self, key: str, ticket: str) -> None:
        taken = self._taken.get(key)
        if taken is not None and ticket in taken:
            taken[ticket] = self._clock() + self.window.span


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
