"""Twilio's limit on creating executions: N a second per account, counted three ways.

Twilio documents "20 new executions per second per account" for REST-created
executions and answers 429 (code 20429, nothing processed) above it, without
saying how it counts. So the emulator can count in any of the three usual
ways, and a client proven against all three holds whichever Twilio uses:

- `token-bucket`: a bucket of N creates refilled at N a second, so a steady
  N a second passes and so do bursts of up to N (10 left over, then 20 more
  within the same second: 30 in one second);
- `fixed-window`: N creates in each whole second of the clock;
- `sliding-window`: N creates in any one second, whenever it starts.

Only admitted creates count. Real time drives it, never the emulator's
`clock` (which tests may freeze).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Literal, get_args

from gateway.emulator.errors import TwilioError

CreateLimiter = Literal["token-bucket", "fixed-window", "sliding-window"]

#: Every way the emulator can count, for the CLI and for tests that try each.
CREATE_LIMITERS: Final[tuple[CreateLimiter, ...]] = get_args(CreateLimiter)


class CreateLimit:
    """Creates by account, counted by `limiter`: `admit(account)` takes one, or refuses it."""

    def __init__(
        self,
        per_second: int,
        *,
        limiter: CreateLimiter = "token-bucket",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second < 1:
            raise ValueError("the create limit must be at least 1 a second")
        if limiter not in CREATE_LIMITERS:
            choices = ", ".join(CREATE_LIMITERS)
            raise ValueError(f"unknown limiter {limiter!r}; use one of {choices}")
        self.per_second = per_second
        self.limiter: CreateLimiter = limiter
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # account -> (tokens, when)
        self._windows: dict[str, tuple[int, int]] = {}  # account -> (second, creates in it)
        self._admitted: dict[str, deque[float]] = {}  # account -> when each recent create came

    def __repr__(self) -> str:
        return f"CreateLimit({self.per_second}, limiter={self.limiter!r})"

    def admit(self, account_sid: str) -> bool:
        now = self._clock()
        if self.limiter == "fixed-window":
            return self._fixed_window(account_sid, now)
        if self.limiter == "sliding-window":
            return self._sliding_window(account_sid, now)
        return self._token_bucket(account_sid, now)

    def _token_bucket(self, account_sid: str, now: float) -> bool:
        limit = float(self.per_second)
        tokens, then = self._buckets.get(account_sid, (limit, now))
        tokens = min(limit, tokens + (now - then) * self.per_second)
        if tokens < 1:
            self._buckets[account_sid] = (tokens, now)
            return False
        self._buckets[account_sid] = (tokens - 1, now)
        return True

    def _fixed_window(self, account_sid: str, now: float) -> bool:
        second = math.floor(now)
        window, count = self._windows.get(account_sid, (second, 0))
        if window != second:
            count = 0
        if count >= self.per_second:
            return False
        self._windows[account_sid] = (second, count + 1)
        return True

    def _sliding_window(self, account_sid: str, now: float) -> bool:
        admitted = self._admitted.setdefault(account_sid, deque())
        while admitted and admitted[0] <= now - 1.0:
            admitted.popleft()
        if len(admitted) >= self.per_second:
            return False
        admitted.append(now)
        return True


def create_limit_exceeded() -> TwilioError:
    return TwilioError(
        429, 20429, "Too many requests: the account's limit on new executions was exceeded"
    )
