"""Event Streams delivers at least once: each event id is acted on once.

The process remembers the ids it saw (`RecentIds`: bounded, for `ttl`
seconds); with Redis, `SET NX` with the same expiry decides across replicas,
so a duplicate that reaches another replica is dropped there too. While Redis
is away the process alone decides (a duplicate that lands on two replicas then
may pass twice: each replica's broker hands an event id on once, and
subscribers de-duplicate steps by SID anyway).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from cachetools import TTLCache

from gateway.shared import RedisUnavailable, SharedRedis

#: Twilio retries a delivery for up to 4 hours (FACTS.md section 1.3).
DEFAULT_TTL: Final = 4 * 3600.0
DEFAULT_MAX_IDS: Final = 100_000


class RecentIds:
    """`first(key)` is True once per key within `ttl` seconds, in this process; at most
    `max_ids` keys are remembered (past it, the oldest are forgotten early)."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_ids: int = DEFAULT_MAX_IDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_ids = max_ids
        # An id is forgotten `ttl` after it was first seen, or sooner, oldest first,
        # when `max_ids` newer ones came since.
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=max_ids, ttl=ttl, timer=clock)

    def __repr__(self) -> str:
        return f"RecentIds(ids={len(self._seen)}, ttl={self.ttl})"

    def __len__(self) -> int:
        return len(self._seen)

    def first(self, key: str) -> bool:
        """True the first time `key` is seen (within `ttl`); False for a repeat."""
        if key in self._seen:  # an expired key reads as absent
            return False
        self._seen[key] = True
        return True


class SeenEvents:
    """`first(id)` is True once per event id, in this process and (with Redis) across replicas."""

    def __init__(
        self,
        shared: SharedRedis | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        max_ids: int = DEFAULT_MAX_IDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.ttl = ttl
        self._recent = RecentIds(ttl=ttl, max_ids=max_ids, clock=clock)

    def __repr__(self) -> str:
        return f"SeenEvents(ids={len(self._recent)}, redis={self.shared is not None})"

    async def first(self, account_sid: str, event_id: str) -> bool:
        """True the first time this account's event id is seen; False for a duplicate."""
        key = f"{account_sid}:{event_id}"
        if not self._recent.first(key):
            return False
        if self.shared is None:
            return True
        redis_key = self.shared.key("event", key)
        try:
            taken = await self.shared.run(
                lambda client: client.set(redis_key, b"1", nx=True, px=int(self.ttl * 1000))
            )
        except RedisUnavailable:
            return True  # the process alone decides
        return bool(taken)
