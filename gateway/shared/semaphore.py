"""An account-wide bound on upstream calls in flight: a semaphore in Redis with leases.

Each holder adds a lease id to a sorted set scored by when the lease expires,
in one atomic script that first drops expired leases: a replica that crashes
holding slots gives them back when its leases run out, with nobody to clean
up. The lease outlives any call it guards (a call is bounded by its
deadline). Waiters poll, briefly. Without Redis, each process holds its own
bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Final

from redis.commands.core import AsyncScript

from gateway.shared.connection import RedisUnavailable, SharedRedis
from gateway.studio.limits import Semaphore

#: KEYS the set; ARGV limit, lease (ms), lease id. 1 when the slot is taken.
_ACQUIRE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

#: The longest pause between two tries for a slot.
_MAX_PAUSE: Final = 0.05


class RedisSemaphore:
    """A `Semaphore` whose slots live in Redis, shared by every replica."""

    def __init__(
        self, shared: SharedRedis, limit: int, *, lease: float, fallback: Semaphore
    ) -> None:
        self.shared = shared
        self.limit = limit
        self.lease = lease
        self.fallback = fallback
        self._script: AsyncScript = shared.client.register_script(_ACQUIRE)

    def __repr__(self) -> str:
        return f"RedisSemaphore(limit={self.limit}, lease={self.lease})"

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        slots = self.shared.key("slots", key)
        lease_id = secrets.token_hex(8)
        if not await self._acquire(slots, lease_id):
            async with self.fallback.hold(key):  # Redis is away: this process's bound
                yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(RedisUnavailable):
                await self.shared.run(lambda client: client.zrem(slots, lease_id))

    async def _acquire(self, slots: str, lease_id: str) -> bool:
        """Wait for a slot: True once held, False when Redis does not answer."""
        args: list[int | str] = [self.limit, max(1, int(self.lease * 1000)), lease_id]
        pause = 0.005
        while True:
            try:
                taken = await self.shared.run(
                    lambda client: self._script(keys=[slots], args=args, client=client)
                )
            except RedisUnavailable:
                return False
            if taken:
                return True
            await asyncio.sleep(pause)
            pause = min(_MAX_PAUSE, pause * 2)
