"""The reorder window: Event Streams deliver unordered, subscribers want the order
things happened in.

Each event is held `window` seconds after it arrives, for those that happened
before it and come later; then it goes out together with every held event that
happened before it, oldest first (an execution's end last, with all that is
held). One window per watch, shared by its subscribers: one timer per watched
execution, however many watch it. An event that comes later still than the
window goes out when it comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.events.model import StudioEvent

__all__ = ["Reorder"]


class Reorder:
    """Holds events for `window` seconds, then hands them to `release` in order."""

    def __init__(self, window: float, release: Callable[[StudioEvent], None]) -> None:
        self.window = window
        self._release = release
        #: Events held, each with when it arrived (the loop's clock).
        self._held: list[tuple[float, StudioEvent]] = []
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"Reorder(window={self.window}, held={len(self._held)})"

    def add(self, event: StudioEvent) -> None:
        if self.window <= 0:
            self._release(event)
            return
        loop = asyncio.get_running_loop()
        self._held.append((loop.time(), event))
        if self._timer is None:
            self._timer = loop.call_later(self.window, self._due)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held.clear()

    def _due(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = [e for at, e in self._held if at + self.window <= now]
        if any(e.ends_execution for e in due):
            going = [e for _, e in self._held]
        else:
            cutoff = max((e.time for e in due), default=None)
            going = [e for _, e in self._held if cutoff is not None and e.time <= cutoff]
            going = [e for e in going if not e.ends_execution]
        gone = {id(e) for e in going}
        self._held = [(at, e) for at, e in self._held if id(e) not in gone]
        if self._held:
            first = min(at for at, _ in self._held)
            self._timer = loop.call_later(max(0.0, first + self.window - now), self._due)
        for event in sorted(going, key=lambda e: (e.ends_execution, e.time)):
            self._release(event)
