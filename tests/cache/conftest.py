"""The caches a test runs against: memory, or a RedisCache on the suite's Redis
(127.0.0.1:6379) under a prefix of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.cache import Cache, MemoryCache, RedisCache
from tests.support import REDIS_URL, drop_keys


@pytest.fixture
async def remote() -> AsyncIterator[RedisCache]:
    backend = RedisCache(REDIS_URL, prefix=f"test-{uuid.uuid4().hex}:")
    if not await backend.ping():
        pytest.fail("Redis is not reachable on 127.0.0.1:6379 (.ci/run starts it)")
    yield backend
    await drop_keys(REDIS_URL, backend.prefix)
    await backend.aclose()


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Cache:
    """Each test that takes it runs once in memory and once in Redis."""
    if request.param == "memory":
        return MemoryCache()
    remote: RedisCache = request.getfixturevalue("remote")
    return remote
