"""A deletion through one replica evicts what it changed on every replica, at once."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from gateway.cache import CacheCipher, Entry, LayeredCache, MemoryCache, RedisCache
from gateway.shared import SharedRedis
from tests.support import RedisServer, until

EXECUTION = Entry("AC1:d:exec:FW1:FN1", pii=True, tags=("AC1:FW1", "AC1:FW1:FN1"))
REVISION = Entry("AC1:d:rev:FW1:3", pii=False, tags=("AC1:FW1",))
OTHER = Entry("AC1:d:exec:FW2:FN2", pii=True, tags=("AC1:FW2", "AC1:FW2:FN2"))
CIPHER = CacheCipher([os.urandom(32)])


@pytest.fixture
async def pair(remote: RedisCache) -> AsyncIterator[tuple[LayeredCache, LayeredCache]]:
    """Two replicas' caches on one Redis, each listening."""
    first = LayeredCache(MemoryCache(), remote, cipher=CIPHER, ttl=60)
    other = RedisCache(SharedRedis("redis://127.0.0.1:6379/0", prefix=remote.prefix))
    second = LayeredCache(MemoryCache(), other, cipher=CIPHER, ttl=60)
    await first.start()
    await second.start()

    async def both_listening() -> bool:
        ((_, listeners),) = await remote.shared.client.pubsub_numsub(remote.channel)
        return bool(listeners == 2)

    await until(both_listening)
    yield first, second
    await first.stop()
    await second.stop()
    await other.aclose()


async def test_deleting_an_execution_evicts_it_from_every_process(
    pair: tuple[LayeredCache, LayeredCache],
) -> None:
    first, second = pair
    for entry in (EXECUTION, REVISION, OTHER):
        await first.set(entry, b"{}")
        assert await second.get(entry) == b"{}"  # now in the second's process too
    await first.invalidate(["AC1:FW1:FN1"], gone=True)
    await until(lambda: len(second.local) == 2)
    assert await second.get(EXECUTION) is None
    assert await second.get(REVISION) == b"{}"  # the flow's other entries stay
    assert await second.get(OTHER) == b"{}"


async def test_deleting_a_flow_evicts_its_revisions_and_executions(
    pair: tuple[LayeredCache, LayeredCache],
) -> None:
    first, second = pair
    for entry in (EXECUTION, REVISION, OTHER):
        await first.set(entry, b"{}")
        await second.get(entry)
    await first.invalidate(["AC1:FW1"], gone=True)
    await until(lambda: len(second.local) == 1)
    assert await second.get(REVISION) is None and await second.get(EXECUTION) is None
    assert await second.get(OTHER) == b"{}"


async def test_an_answer_fetched_before_a_deletion_is_not_stored_after_it(
    pair: tuple[LayeredCache, LayeredCache], remote: RedisCache
) -> None:
    first, second = pair
    await first.invalidate(["AC1:FW1:FN1"], gone=True)
    await until(lambda: second.local._is_gone("AC1:FW1:FN1"), 5)
    await second.set(EXECUTION, b"{}")  # a fetch that started before the deletion
    assert await remote.shared.client.get(remote.prefix + EXECUTION.key) is None
    assert await first.get(EXECUTION) is None and await second.get(EXECUTION) is None


async def test_an_invalidation_made_while_redis_was_away_is_sent_when_it_is_back(
    redis_server: RedisServer,
) -> None:
    remote = RedisCache(SharedRedis(redis_server.url, retry_interval=0.05))
    cache = LayeredCache(MemoryCache(), remote, cipher=CIPHER, ttl=60)
    await cache.set(REVISION, b"{}")
    redis_server.kill()
    await cache.invalidate(["AC1:FW1"], gone=True)  # cannot reach Redis: kept for later
    assert await cache.get(REVISION) is None  # this process forgot it at once
    redis_server.start()
    # As if Redis had only been out of reach and kept its data:
    redis_server.client().set(remote.prefix + REVISION.key, b"{}")
    redis_server.client().sadd(remote.prefix + "tag:AC1:FW1", remote.prefix + REVISION.key)

    async def sent() -> bool:
        await cache.get(OTHER)  # once Redis answers again, the held invalidation goes
        return redis_server.client().get(remote.prefix + REVISION.key) is None

    await until(sent)
    assert redis_server.client().exists(remote.prefix + "gone:AC1:FW1")
    await remote.aclose()
