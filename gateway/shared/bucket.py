"""Twilio's create limit for the whole account: one sliding window in Redis.

The window is a sorted set per account: each create that may count upstream
is a member scored by when it stops counting. A create takes a place in one
atomic script, by Redis's own clock, that first drops the places that have
freed: at most `places` members means no span (a second) ever holds more
creates, whichever replicas sent them. A place is scored a lease ahead while
its call is out, and a span after its answer once the answer came
(`release`), so a create counts from when it leaves until a second after
Twilio answered: Twilio counted it somewhere in between, and no network
delay can bunch creates that left a second apart into one second upstream.

Waiting is the process's (`gateway.studio.limits.Turns`): its callers in
line, the first looking at the window again when the script says a place may
free. A create that may wait gives a slow Redis as long to answer, and one
that an earlier command marked down one ordinary try: a slow or briefly
unreachable Redis must not let every replica count alone. Only a Redis that
does not answer leaves the process to its own window (then each replica may
send the whole rate, and Twilio's 429s are waited out).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Final

from redis.commands.core import AsyncScript

from gateway.shared.connection import RedisUnavailable, SharedRedis
from gateway.studio.limits import LOCAL_TICKET, Admission, SlidingWindow, Turns, Window

#: KEYS[1] the window; ARGV places, span (ms), lease (ms), ticket.
#: Returns {taken (0/1), ms until a place may free}.
_TAKE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local places = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local taken = redis.call('ZCARD', KEYS[1])
if taken < places then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], lease)
  return {1, 0}
end
local first = redis.call('ZRANGE', KEYS[1], taken - places, taken - places, 'WITHSCORES')
return {0, math.min(tonumber(first[2]), now + span) - now}
"""

#: KEYS[1] the window; ARGV span (ms), ticket. The place frees a span from now.
_RELEASE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + span, ARGV[2])
  if redis.call('PTTL', KEYS[1]) < span then redis.call('PEXPIRE', KEYS[1], span) end
end
return 1
"""


class RedisSlidingWindow:
    """A `RateLimiter` whose window lives in Redis, shared by every replica."""

    def __init__(
        self,
        shared: SharedRedis,
        window: Window,
        *,
        fallback: SlidingWindow,
        name: str = "creates",
    ) -> None:
        self.shared = shared
        self.window = window
        self.fallback = fallback
        self.name = name
        self._take_script: AsyncScript = shared.client.register_script(_TAKE)
        self._release_script: AsyncScript = shared.client.register_script(_RELEASE)
        self._turns = Turns(window)
        self._releases: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (
            f"RedisSlidingWindow({self.name!r}, places={self.window.places}, "
            f"span={self.window.span})"
        )

    async def acquire(self, key: str, max_wait: float) -> Admission:
        until = asyncio.get_running_loop().time() + max_wait
        return await self._turns.wait(key, max_wait, lambda: self._take(key, until))

    async def _take(self, key: str, until: float) -> tuple[str | None, float]:
        within = self.shared.timeout
        if self.shared.usable:  # a Redis marked down gets one ordinary try
            within = max(within, until - asyncio.get_running_loop().time())
        ticket = secrets.token_hex(8)
        args: list[int | str] = [
            self.window.places,
            _ms(self.window.span),
            _ms(self.fallback.lease),
            ticket,
        ]
        window = self._key(key)
        try:
            taken, pause_ms = await self.shared.run(
                lambda client: self._take_script(keys=[window], args=args, client=client),
                within=within,
                even_if_down=True,
            )
        except RedisUnavailable:
            return self.fallback.take(key)  # Redis is away: this process's own window
        return (ticket if taken else None), int(pause_ms) / 1000

    async def release(self, key: str, ticket: str) -> None:
        """Free the place a span from now, by Redis's clock; in the background, so the
        answer waits for nothing (a late release only frees the place later)."""
        if ticket.startswith(LOCAL_TICKET):
            self.fallback.give_back(key, ticket)
            return
        task = asyncio.get_running_loop().create_task(self._release(key, ticket))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, key: str, ticket: str) -> None:
        args: list[int | str] = [_ms(self.window.span), ticket]
        window = self._key(key)
        try:
            await self.shared.run(
                lambda client: self._release_script(keys=[window], args=args, client=client),
                within=max(self.shared.timeout, self.window.span),
                even_if_down=True,
            )
        except RedisUnavailable:
            pass  # the place frees when its lease runs out

    def _key(self, key: str) -> str:
        return self.shared.key("window", self.name, key)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
