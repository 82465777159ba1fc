"""A `SharedRedis` on the suite's Redis (127.0.0.1:6379) under a prefix of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.shared import SharedRedis
from tests.support import REDIS_URL, drop_keys, free_port


@pytest.fixture
async def shared() -> AsyncIterator[SharedRedis]:
    prefix = f"test-{uuid.uuid4().hex}:"
    connection = SharedRedis(REDIS_URL, prefix=prefix)
    if not await connection.ping():
        pytest.fail("Redis is not reachable on 127.0.0.1:6379 (.ci/run starts it)")
    yield connection
    await drop_keys(REDIS_URL, prefix)
    await connection.aclose()


@pytest.fixture
async def nowhere() -> AsyncIterator[SharedRedis]:
    """A SharedRedis pointing at a port where nothing listens."""
    connection = SharedRedis(f"redis://127.0.0.1:{free_port()}/0")
    yield connection
    await connection.aclose()
