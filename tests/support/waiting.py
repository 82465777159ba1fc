"""Waiting on what a test can observe instead of on the clock, and bounding how
long a block may run."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable

#: How long a condition may take to come true, or an operation may run past its
#: deadline, on a loaded two-core machine (a load average of ten was seen). What the tests guard against lasts
#: far longer: a hung upstream holds on for an hour, a wait they refuse is
#: minutes, so ending within this still proves the point.
SLACK = 15.0
#: How much before its time a timer may fire (clock resolution and rounding).
EARLY = 0.05


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
