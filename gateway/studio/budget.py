"""The retry budget: retries may add only so much to upstream traffic.

Per-call limits (`RetryPolicy.max_attempts`) bound one call; in an outage
every call hits its limit at once and the upstream sees the load multiplied.
The budget bounds them all together: over a rolling window, retries may be at
most a fraction of first attempts, plus a small floor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.studio.config import RetryBudgetPolicy
from gateway.studio.window import Clock, RollingCounts


@dataclass(frozen=True, slots=True)
class RetryBudgetStats:
    """A snapshot of the budget, for metrics."""

    #: First attempts and retries over the rolling window.
    calls: int
    retries: int
    #: Retries the budget allows now.
    available: int
    #: Since the process started: retries refused for lack of budget.
    refused: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "retries": self.retries,
            "available": self.available,
            "refused": self.refused,
        }


class RetryBudget:
    """Counts calls and retries; `spend()` says whether one more retry may go."""

    def __init__(
        self, policy: RetryBudgetPolicy | None = None, *, clock: Clock = time.monotonic
    ) -> None:
        self.policy = policy or RetryBudgetPolicy()
        self._window = RollingCounts(self.policy.window, clock=clock)
        self._refused = 0

    def __repr__(self) -> str:
        return f"RetryBudget(available={self._available()})"

    @property
    def stats(self) -> RetryBudgetStats:
        calls, retries = self._window.totals()
        return RetryBudgetStats(calls, retries, self._available(), self._refused)

    def deposit(self) -> None:
        """A call's first attempt: it earns `ratio` of a retry."""
        self._window.add(1, 0)

    def spend(self) -> bool:
        """Take one retry from the budget; False (and nothing taken) when it is spent."""
        if self.policy.enabled and self._available() < 1:
            self._refused += 1
            return False
        self._window.add(0, 1)
        return True

    def _available(self) -> int:
        calls, retries = self._window.totals()
        allowed = self.policy.min_retries + int(self.policy.ratio * calls)
        return max(0, allowed - retries)
