"""The layer every replica shares: entries in Redis, with tags, tombstones and a channel.

An entry is stored with the tags of what it belongs to (its flow, its
execution); invalidating a tag deletes its entries, leaves a tombstone when
the thing is gone for good, and tells every replica on one pub/sub channel,
all in one atomic script. Redis being slow or away never fails a call: reads
miss, writes are skipped, and an invalidation says it did not happen so the
caller can send it again later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any, Final, Literal

from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from gateway.shared import DEFAULT_PREFIX, RedisUnavailable, SharedRedis

#: KEYS entry, n tag sets, n tombstones; ARGV value, ttl (ms), n. 0 when refused.
_STORE: Final = """
local n = tonumber(ARGV[3])
for i = 1, n do
  if redis.call('EXISTS', KEYS[1 + n + i]) == 1 then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 1, n do
  redis.call('SADD', KEYS[1 + i], KEYS[1])
  redis.call('PEXPIRE', KEYS[1 + i], ARGV[2])
end
return 1
"""

#: KEYS n tag sets, n tombstones; ARGV n, tombstone ttl (ms, 0: none), channel, message.
_INVALIDATE: Final = """
local n = tonumber(ARGV[1])
local dropped = 0
for i = 1, n do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members, 500 do
    redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  dropped = dropped + #members
  redis.call('DEL', KEYS[i])
  if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[n + i], '1', 'PX', ARGV[2]) end
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return dropped
"""


class RedisCache:
    """Bytes by key in Redis, shared by every replica, with tags for invalidation."""

    def __init__(self, redis: str | SharedRedis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.shared = redis if isinstance(redis, SharedRedis) else SharedRedis(redis, prefix=prefix)
        client = self.shared.client
        self._store = client.register_script(_STORE)
        self._invalidate = client.register_script(_INVALIDATE)
        self._batch: dict[str, asyncio.Future[bytes | None]] | None = None
        self._reads: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r})"

    @property
    def prefix(self) -> str:
        return self.shared.prefix

    @property
    def channel(self) -> str:
        """Where invalidations are announced to every replica."""
        return self.prefix + "invalidate"

    async def get(self, key: str) -> bytes | None:
        """The entry, or None. Reads asked for in the same turn of the loop go as one
        MGET: a page of 20 executions with their steps is one round trip, not 150."""
        if self._batch is None:
            self._batch = {}
            asyncio.get_running_loop().call_soon(self._flush)
        waiter = self._batch.get(key)
        if waiter is None:
            waiter = self._batch[key] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(waiter)

    def _flush(self) -> None:
        batch, self._batch = self._batch or {}, None
        task = asyncio.get_running_loop().create_task(self._read(batch))
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)

    async def _read(self, batch: dict[str, asyncio.Future[bytes | None]]) -> None:
        keys = list(batch)
        try:
            values = await self.shared.run(
                lambda client: client.mget([self.prefix + k for k in keys])
            )
        except RedisUnavailable:
            values = [None] * len(keys)
        for key, value in zip(keys, values, strict=True):
            if not batch[key].done():
                batch[key].set_result(_as_bytes(value))

    async def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None:
        tags = tuple(tags)
        keys = [
            self.prefix + key,
            *(self._tag(t) for t in tags),
            *(self._tombstone(t) for t in tags),
        ]
        args: list[bytes | int] = [value, max(1, int(ttl * 1000)), len(tags)]
        try:
            await self.shared.run(lambda client: self._store(keys=keys, args=args, client=client))
        except RedisUnavailable:
            pass  # the process layer still holds it

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self.shared.run(lambda client: client.delete(*(self.prefix + k for k in keys)))
        except RedisUnavailable:
            pass

    async def invalidate(self, tags: Iterable[str], *, gone_for: float | None = None) -> bool:
        """Delete every entry with one of `tags` and tell every replica; False if Redis is away."""
        tags = tuple(tags)
        keys = [*(self._tag(t) for t in tags), *(self._tombstone(t) for t in tags)]
        message = json.dumps({"tags": tags, "gone_for": gone_for})
        args: list[str | int] = [
            len(tags),
            int((gone_for or 0) * 1000),
            self.channel,
            message,
        ]
        try:
            await self.shared.run(
                lambda client: self._invalidate(keys=keys, args=args, client=client)
            )
        except RedisUnavailable:
            return False
        return True

    # -- one fetch across replicas --------------------------------------------

    async def lock(self, key: str, ttl: float) -> Lock | Literal[False] | None:
        """Take the fill lock of `key` for `ttl` seconds, without waiting: the lock,
        False when another replica holds it, None when Redis is away."""
        lock = Lock(self.shared.client, self._lock(key), timeout=ttl, thread_local=False)
        try:
            taken = await self.shared.run(lambda client: lock.acquire(blocking=False))
        except RedisUnavailable:
            return None
        return lock if taken else False

    async def unlock(self, lock: Lock) -> None:
        """Give the fill lock back, if it is still ours (else it expired: nothing to do)."""
        try:
            await self.shared.run(lambda client: lock.release())
        except (RedisUnavailable, LockError):
            pass

    async def peek(self, key: str) -> tuple[bytes | None, bool]:
        """The entry, and whether its fill lock is still held (False when Redis is away)."""

        async def both(client: Any) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                pipe.get(self.prefix + key)
                pipe.exists(self._lock(key))
                return list(await pipe.execute())

        try:
            value, locked = await self.shared.run(both)
        except RedisUnavailable:
            return None, False
        return (bytes(value) if value is not None else None), bool(locked)

    async def ping(self) -> bool:
        return await self.shared.ping()

    async def aclose(self) -> None:
        await self.shared.aclose()

    def _tag(self, tag: str) -> str:
        return self.prefix + "tag:" + tag

    def _lock(self, key: str) -> str:
        return self.prefix + "lock:" + key

    def _tombstone(self, tag: str) -> str:
        return self.prefix + "gone:" + tag


def _as_bytes(value: bytes | str | None) -> bytes | None:
    # redis-py types replies as bytes or str; without decode_responses they are bytes.
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else bytes(value)
