"""The circuit breaker: stop calling an upstream that keeps failing.

    closed ──(failure ratio over the window)──▶ open ──(cooldown)──▶ half_open
      ▲                                           ▲                      │
      └────────(every trial call succeeds)────────┼──(a trial call fails)┘

One breaker per `Transport`, so one per process: a failing Twilio is failing
for every account. While open, a call costs a clock read and an exception,
never a socket. Attempts are counted, not calls, so a call retried three times
against a failing upstream weighs three times.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.studio.config import CircuitPolicy
from gateway.studio.errors import Reason, StudioError
from gateway.studio.window import Clock, RollingCounts


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class CircuitStats:
    """A snapshot of the breaker, for /readyz and metrics."""

    state: CircuitState
    #: Attempts and failed attempts over the rolling window.
    calls: int
    failures: int
    #: Seconds until an open circuit lets trial calls through (0 otherwise).
    retry_in: float
    #: Since the process started: times the circuit opened, calls refused.
    opened: int
    rejected: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "calls": self.calls,
            "failures": self.failures,
            "retry_in": round(self.retry_in, 3),
            "opened": self.opened,
            "rejected": self.rejected,
        }


class CircuitBreaker:
    """Opens on a failure ratio over a rolling window; half-opens after a cooldown.

    `admit()` before each attempt (it raises while open); then exactly one of
    `record()` with the attempt's outcome or `abandon()` when it ended without
    one (cancelled).
    """

    def __init__(self, policy: CircuitPolicy | None = None, *, clock: Clock = time.monotonic):
        self.policy = policy or CircuitPolicy()
        self._clock = clock
        self._window = RollingCounts(self.policy.window, clock=clock)
        self._state = CircuitState.CLOSED
        self._opened_at = 0.0
        self._trials_started = 0
        self._trials_passed = 0
        self._opened = 0
        self._rejected = 0

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value!r})"

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._cooled_down():
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def stats(self) -> CircuitStats:
        calls, failures = self._window.totals()
        retry_in = 0.0
        if self._state is CircuitState.OPEN:
            retry_in = max(0.0, self._opened_at + self.policy.cooldown - self._clock())
        return CircuitStats(self.state, calls, failures, retry_in, self._opened, self._rejected)

    def rejects(self) -> bool:
        """True while open and cooling down: a call now would be refused."""
        return self._state is CircuitState.OPEN and not self._cooled_down()

    def admit(self, operation: str | None = None) -> bool:
        """Let an attempt through, or raise CIRCUIT_OPEN. True when it is a trial call."""
        if self._state is CircuitState.CLOSED:
            return False
        if self._state is CircuitState.OPEN:
            if not self._cooled_down():
                raise self.refusal(operation)
            self._state = CircuitState.HALF_OPEN
            self._trials_started = self._trials_passed = 0
        if self._trials_started >= self.policy.trial_calls:
            raise self.refusal(operation)
        self._trials_started += 1
        return True

    def record(self, failed: bool, *, trial: bool = False) -> None:
        """The outcome of an admitted attempt."""
        if self._state is CircuitState.CLOSED:
            self._window.add(1, int(failed))
            if failed and self.policy.enabled and self._tripped():
                self._open()
        elif self._state is CircuitState.HALF_OPEN and trial:
            if failed:
                self._open()
                return
            self._trials_passed += 1
            if self._trials_passed >= self.policy.trial_calls:
                self._state = CircuitState.CLOSED
                self._window.clear()
        # Anything else finished after the state moved on: it says nothing new.

    def abandon(self, *, trial: bool = False) -> None:
        """An admitted attempt ended without an outcome; its trial slot frees up."""
        if trial and self._state is CircuitState.HALF_OPEN:
            self._trials_started -= 1

    def _tripped(self) -> bool:
        calls, failures = self._window.totals()
        return calls >= self.policy.min_calls and failures >= self.policy.failure_ratio * calls

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
        self._opened += 1

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.policy.cooldown

    def refusal(self, operation: str | None = None) -> StudioError:
        """The error a refused call fails with (and counts it as refused)."""
        self._rejected += 1
        wait = max(0.0, self._opened_at + self.policy.cooldown - self._clock())
        return StudioError(
            "Twilio has been failing; the gateway stopped calling it for a few seconds",
            reason=Reason.CIRCUIT_OPEN,
            retry_after=round(wait, 3),
            operation=operation,
        )
