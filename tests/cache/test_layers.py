"""Two layers: the process first, then Redis; personal data reaches Redis only sealed."""

from __future__ import annotations

import asyncio
import os

from gateway.cache import CacheCipher, Entry, LayeredCache, MemoryCache, RedisCache
from tests.support import RedisServer

REDIS_URL = "redis://127.0.0.1:6379/0"
PII = Entry("AC1:d:ctx:FW1:FN1", pii=True, tags=("AC1:FW1", "AC1:FW1:FN1"))
PLAIN = Entry("AC1:d:rev:FW1:3", pii=False, tags=("AC1:FW1",))
CONTEXT = b'{"contact":{"channel":{"address":"+14155550123"}}}'


class Seen:
    def __init__(self) -> None:
        self.layers: list[str | None] = []

    def observe_cache(self, layer: str | None) -> None:
        self.layers.append(layer)


async def raw(remote: RedisCache, entry: Entry) -> bytes | None:
    return await remote.shared.client.get(remote.prefix + entry.key)


def replica(remote: RedisCache, cipher: CacheCipher | None = None) -> LayeredCache:
    return LayeredCache(MemoryCache(100), remote, cipher=cipher, ttl=60, observer=Seen())


def seen(cache: LayeredCache) -> list[str | None]:
    assert isinstance(cache.observer, Seen)
    return cache.observer.layers


async def test_a_replica_reads_what_another_stored_and_keeps_it_in_its_process(
    remote: RedisCache,
) -> None:
    cipher = CacheCipher([os.urandom(32)])
    first, second = replica(remote, cipher), replica(remote, cipher)
    await first.set(PII, CONTEXT)
    await first.set(PLAIN, b'{"revision":3}')
    assert await second.get(PII) == CONTEXT
    assert await second.get(PLAIN) == b'{"revision":3}'
    assert await second.get(PII) == CONTEXT
    assert seen(second) == ["redis", "redis", "process"]


async def test_personal_data_is_sealed_in_redis_and_plain_data_is_not(remote: RedisCache) -> None:
    cache = replica(remote, CacheCipher([os.urandom(32)]))
    await cache.set(PII, CONTEXT)
    await cache.set(PLAIN, b'{"revision":3}')
    sealed = await raw(remote, PII)
    assert sealed is not None and b"+14155550123" not in sealed and b"address" not in sealed
    assert await raw(remote, PLAIN) == b'{"revision":3}'


async def test_without_a_key_personal_data_stays_in_the_process(remote: RedisCache) -> None:
    first, second = replica(remote), replica(remote)
    await first.set(PII, CONTEXT)
    await first.set(PLAIN, b'{"revision":3}')
    assert await raw(remote, PII) is None
    assert await first.get(PII) == CONTEXT
    assert await second.get(PII) is None
    assert await second.get(PLAIN) == b'{"revision":3}'


async def test_an_entry_sealed_with_a_key_no_longer_held_is_a_miss(remote: RedisCache) -> None:
    await replica(remote, CacheCipher([os.urandom(32)])).set(PII, CONTEXT)
    other = replica(remote, CacheCipher([os.urandom(32)]))
    assert await other.get(PII) is None
    assert seen(other) == [None]


async def test_an_entry_copied_under_another_key_is_a_miss(remote: RedisCache) -> None:
    cipher = CacheCipher([os.urandom(32)])
    await replica(remote, cipher).set(PII, CONTEXT)
    moved = Entry("AC1:d:ctx:FW1:FN2", pii=True)
    await remote.shared.client.set(remote.prefix + moved.key, await raw(remote, PII))
    assert await replica(remote, cipher).get(moved) is None


async def test_the_process_layer_is_bounded() -> None:
    memory = MemoryCache(max_entries=2)
    for n in range(5):
        await memory.set(f"k{n}", b"v", 60)
    assert len(memory) == 2
    assert await memory.get("k0") is None and await memory.get("k4") == b"v"


async def test_reads_asked_for_together_go_to_redis_as_one_round_trip(
    redis_server: RedisServer,
) -> None:
    remote = RedisCache(redis_server.url)
    cache = replica(remote, CacheCipher([os.urandom(32)]))
    entries = [Entry(f"AC1:d:step:FW1:FN1:FT{n}", pii=True) for n in range(50)]
    for entry in entries:
        await cache.set(entry, b"{}")
    reader = replica(remote, cache.cipher)
    redis_server.client().config_resetstat()
    found = await asyncio.gather(*(reader.get(entry) for entry in entries))
    assert found == [b"{}"] * 50
    stats = redis_server.client().info("commandstats")
    assert stats["cmdstat_mget"]["calls"] == 1 and "cmdstat_get" not in stats
    await remote.aclose()
