"""Counts over a rolling window of time, for the circuit breaker and the retry budget."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class RollingCounts:
    """Two counters summed over the last `window` seconds.

    The window is cut into `buckets` slices; a slice older than the window is
    forgotten as the clock moves past it, so memory stays constant however busy
    the process is. Counts are exact to within one slice's width.
    """

    __slots__ = ("_clock", "_counts", "_slices", "_ticks", "_width")

    def __init__(self, window: float, *, buckets: int = 10, clock: Clock = time.monotonic) -> None:
        if window <= 0:
            raise ValueError("window must be a positive number of seconds")
        self._clock = clock
        self._width = window / buckets
        self._slices = buckets
        self._ticks = [-1] * buckets  # which slice of time each bucket holds
        self._counts = [[0, 0] for _ in range(buckets)]

    def add(self, first: int = 0, second: int = 0) -> None:
        tick = int(self._clock() / self._width)
        index = tick % self._slices
        counts = self._counts[index]
        if self._ticks[index] != tick:
            self._ticks[index] = tick
            counts[0] = counts[1] = 0
        counts[0] += first
        counts[1] += second

    def totals(self) -> tuple[int, int]:
        """Both counters, summed over the window."""
        oldest = int(self._clock() / self._width) - self._slices
        first = second = 0
        for tick, counts in zip(self._ticks, self._counts, strict=True):
            if tick > oldest:
                first += counts[0]
                second += counts[1]
        return first, second

    def clear(self) -> None:
        self._ticks = [-1] * self._slices
