"""Twilio's limit on creating executions: N a second per account.

Twilio documents "20 new executions per second per account" for REST-created
executions and answers 429 (code 20429, nothing processed) above it, without
saying how it counts. The emulator counts with a token bucket per account:
it holds N creates and refills at N a second, so a steady N a second passes
and bursts of up to N pass too. Real time drives it, never the emulator's
`clock` (which tests may freeze).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.emulator.errors import TwilioError


class CreateLimit:
    """Token buckets by account: `admit(account)` takes one create, or refuses it."""

    def __init__(self, per_second: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second < 1:
            raise ValueError("the create limit must be at least 1 a second")
        self.per_second = per_second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # account -> (tokens, when)

    def admit(self, account_sid: str) -> bool:
        now = self._clock()
        tokens, then = self._buckets.get(account_sid, (float(self.per_second), now))
        tokens = min(float(self.per_second), tokens + (now - then) * self.per_second)
        if tokens < 1:
            self._buckets[account_sid] = (tokens, now)
            return False
        self._buckets[account_sid] = (tokens - 1, now)
        return True


def create_limit_exceeded() -> TwilioError:
    return TwilioError(
        429, 20429, "Too many requests: the account's limit on new executions was exceeded"
    )
