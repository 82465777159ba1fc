"""Single flight: identical reads in flight at once share one upstream call.

A hundred requests asking for the same flow in the same instant cost Twilio
one GET. The key is the whole identity of the read (credentials, path and
query), so no answer ever crosses accounts or credentials. Only reads are
shared: a write is never merged with another.

The shared call runs in a task of its own, so no waiter owns it: a waiter
that is cancelled or runs out of time leaves alone, and the call goes on for
the others. When the last waiter has left, the call is ended (through its
call scope), since no one would read its answer.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from gateway.studio.scope import CallScope, current_scope, enter_scope


@dataclass(frozen=True, slots=True)
class SingleFlightStats:
    #: Shared calls in flight now, and callers waiting on them.
    in_flight: int
    waiting: int
    #: Since the process started: calls started, and callers that joined one.
    started: int
    joined: int


class _Flight:
    __slots__ = ("scope", "task", "waiters")

    def __init__(self, task: asyncio.Task[Any], scope: CallScope) -> None:
        self.task = task
        self.scope = scope
        self.waiters = 0


class SingleFlight:
    """Runs one call per key at a time; every caller of that key gets its outcome."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight] = {}
        self._started = 0
        self._joined = 0

    @property
    def stats(self) -> SingleFlightStats:
        waiting = sum(flight.waiters for flight in self._flights.values())
        return SingleFlightStats(len(self._flights), waiting, self._started, self._joined)

    async def run(
        self,
        key: Hashable,
        call: Callable[[], Awaitable[Any]],
        *,
        on_timeout: Callable[[], BaseException],
    ) -> Any:
        """`call()`'s result, shared with every concurrent caller of the same `key`.

        A caller's wait ends at its own scope's deadline (or when its scope is
        cancelled) with `on_timeout()`, whatever the shared call is doing.
        """
        scope = current_scope()
        remaining = scope.remaining() if scope is not None else None
        if remaining is not None and remaining <= 0:
            # This caller's request is gone or out of time: start nothing, since a
            # call born with its (past) deadline would fail for whoever joined it.
            raise on_timeout()
        flight = self._flights.get(key)
        if flight is None:
            flight = self._start(key, call, scope)
        else:
            self._joined += 1
        flight.waiters += 1
        left = True
        try:
            if scope is None:
                result = await asyncio.shield(flight.task)
            else:
                try:
                    async with scope.bound(None):
                        result = await asyncio.shield(flight.task)
                except TimeoutError:
                    raise on_timeout() from None
            left = False
        finally:
            flight.waiters -= 1
            if left and flight.waiters == 0 and not flight.task.done():
                # Nobody will read it: forget it first, so a caller arriving
                # now starts a fresh call instead of joining one being ended.
                if self._flights.get(key) is flight:
                    del self._flights[key]
                # Ended through its scope, not Task.cancel(): a second cancel
                # landing while httpx closes the connection would leak it.
                flight.scope.cancel()
        return result

    def _start(
        self, key: Hashable, call: Callable[[], Awaitable[Any]], scope: CallScope | None
    ) -> _Flight:
        # The shared call keeps the first caller's deadline (so a long
        # Retry-After still fails fast) but not its cancellation: one caller
        # going away must not end the call for the rest.
        detached = CallScope(scope.deadline if scope is not None else None)
        context = contextvars.copy_context()
        context.run(enter_scope, detached)
        task = asyncio.get_running_loop().create_task(_call(call), context=context)
        flight = self._flights[key] = _Flight(task, detached)
        self._started += 1
        task.add_done_callback(lambda done: self._finish(key, flight, done))
        return flight

    def _finish(self, key: Hashable, flight: _Flight, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved: a failure no one waited for is not "never retrieved"


async def _call(call: Callable[[], Awaitable[Any]]) -> Any:
    return await call()
