"""Twilio's create limit for the whole account: one token bucket in Redis.

Every replica takes its tokens from the same bucket, in one atomic script, by
Redis's own clock, so the replicas together never send Twilio more creates a
second than it accepts. A reservation may run the bucket below zero: the
caller then waits for its own token, so callers are served in order and a
create waiting its turn costs no further Redis call. Without Redis, each
process falls back to its own bucket.
"""

from __future__ import annotations

from typing import Final

from redis.commands.core import AsyncScript

from gateway.shared.connection import RedisUnavailable, SharedRedis
from gateway.studio.limits import Admission, RateLimiter

#: KEYS[1] the bucket; ARGV rate (tokens/s), burst, max wait (ms).
#: Returns {granted (0/1), wait in ms}.
_RESERVE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
local granted = 0
if wait <= max_wait then
  tokens = tokens - 1
  granted = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {granted, math.ceil(wait)}
"""


class RedisTokenBucket:
    """A `RateLimiter` whose buckets live in Redis, shared by every replica."""

    def __init__(
        self,
        shared: SharedRedis,
        rate: float,
        burst: float,
        *,
        fallback: RateLimiter,
        name: str = "creates",
    ) -> None:
        self.shared = shared
        self.rate = rate
        self.burst = burst
        self.fallback = fallback
        self.name = name
        self._script: AsyncScript = shared.client.register_script(_RESERVE)

    def __repr__(self) -> str:
        return f"RedisTokenBucket({self.name!r}, rate={self.rate}, burst={self.burst})"

    async def reserve(self, key: str, max_wait: float) -> Admission:
        bucket = self.shared.key("bucket", self.name, key)
        args = [self.rate, self.burst, max(0, int(max_wait * 1000))]
        try:
            # A create may wait `max_wait` for its turn anyway: Redis gets that long
            # to give it, before the process's own bucket decides.
            granted, wait_ms = await self.shared.run(
                lambda client: self._script(keys=[bucket], args=args, client=client),
                within=max(self.shared.timeout, max_wait),
            )
        except RedisUnavailable:
            return await self.fallback.reserve(key, max_wait)
        return Admission(bool(granted), int(wait_ms) / 1000)
