"""A miss on several replicas at once: one fetches under a lock, the others wait for its entry."""

from __future__ import annotations

import asyncio
import os

from gateway.cache import CacheCipher, Entry, LayeredCache, MemoryCache, RedisCache
from gateway.shared import SharedRedis
from tests.support import free_port

ENTRY = Entry("AC1:d:exec:FW1:FN1", pii=True, tags=("AC1:FW1", "AC1:FW1:FN1"))
CIPHER = CacheCipher([os.urandom(32)])


def replica(remote: RedisCache) -> LayeredCache:
    return LayeredCache(MemoryCache(), remote, cipher=CIPHER, ttl=60, fill_wait=5)


async def test_the_others_get_what_the_first_fetched(remote: RedisCache) -> None:
    first, second, third = replica(remote), replica(remote), replica(remote)
    fetched: list[str] = []

    async def read(cache: LayeredCache, name: str) -> bytes:
        async with cache.filling(ENTRY) as filled:
            if filled is not None:
                return filled
            fetched.append(name)
            await asyncio.sleep(0.2)  # the upstream call
            await cache.set(ENTRY, b'{"sid":"FN1"}')
            return b'{"sid":"FN1"}'

    answers = await asyncio.gather(read(first, "1"), read(second, "2"), read(third, "3"))
    assert answers == [b'{"sid":"FN1"}'] * 3
    assert len(fetched) == 1
    for cache in (first, second, third):
        assert await cache.local.get(ENTRY.key) is not None


async def test_when_the_first_keeps_nothing_the_others_fetch_themselves(
    remote: RedisCache,
) -> None:
    first, second = replica(remote), replica(remote)
    fetched: list[str] = []

    async def read(cache: LayeredCache, name: str) -> None:
        async with cache.filling(ENTRY) as filled:
            assert filled is None
            fetched.append(name)
            await asyncio.sleep(0.1)  # an active execution: not kept

    await asyncio.gather(read(first, "1"), read(second, "2"))
    assert sorted(fetched) == ["1", "2"]


async def test_entries_that_stay_in_the_process_take_no_lock(remote: RedisCache) -> None:
    unsealed = LayeredCache(MemoryCache(), remote, ttl=60)  # no key: PII stays here
    async with unsealed.filling(ENTRY) as filled:
        assert filled is None
        assert not await remote.shared.client.exists(remote.prefix + "lock:" + ENTRY.key)


async def test_without_redis_everyone_fetches_at_once() -> None:
    nowhere = RedisCache(SharedRedis(f"redis://127.0.0.1:{free_port()}/0"))
    cache = replica(nowhere)
    async with cache.filling(ENTRY) as filled:
        assert filled is None
    await nowhere.aclose()
