"""Fixtures shared by every suite: a seeded emulator, served over ASGI or a real socket.

Helpers (functions, classes, constants) live in `tests/support/`."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as redis

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app
from gateway.studio import ClientConfig, Credentials, StudioClient, Transport
from tests.support import (
    FAST_RETRY,
    REDIS_URL,
    RedisServer,
    asgi_transport,
    free_port,
    seeded_pii,
    serve,
)


@pytest.fixture(scope="session", autouse=True)
def no_pii_in_any_log() -> Iterator[None]:
    """Capture every log line the whole run writes, then grep it for seeded PII and secrets."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    watched = [logging.getLogger(), logging.getLogger("gateway")]
    for logger in watched:
        logger.addHandler(handler)
    gateway = logging.getLogger("gateway")
    previous = gateway.level
    gateway.setLevel(logging.INFO)
    yield
    gateway.setLevel(previous)
    for logger in watched:
        logger.removeHandler(handler)
    text = buffer.getvalue()
    leaked = sorted(v for v in seeded_pii() | {DEMO_AUTH_TOKEN} if v in text)
    assert not leaked, f"personal data or secrets reached the logs: {leaked[:5]}"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the real Redis; its keys go when the test ends."""
    prefix = f"test-{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        try:
            await client.ping()
        except redis.ConnectionError:
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 (.ci/run starts it)")
        yield prefix
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator.seeded(seed=7, flows=5, executions_per_flow=8, steps_per_execution=5)


@pytest.fixture
def credentials() -> Credentials:
    return Credentials.auth_token(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)


@pytest.fixture
def emulator_url(emulator: Emulator) -> Iterator[str]:
    """The emulator on a real socket."""
    with serve(create_app(emulator)) as url:
        yield url


@pytest.fixture
async def studio(emulator: Emulator, credentials: Credentials) -> AsyncIterator[StudioClient]:
    """A client talking to the emulator through httpx's ASGI transport."""
    client = StudioClient(asgi_transport(emulator), credentials)
    yield client
    await client.aclose()


@pytest.fixture
async def studio_socket(emulator_url: str, credentials: Credentials) -> AsyncIterator[StudioClient]:
    """A client talking to the emulator over a real socket."""
    client = StudioClient(
        Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY)), credentials
    )
    yield client
    await client.aclose()


@pytest.fixture(params=["asgi", "socket"])
def any_studio(request: pytest.FixtureRequest) -> StudioClient:
    """The same test over httpx's ASGI transport and over a real socket."""
    name = "studio" if request.param == "asgi" else "studio_socket"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A `redis-server` of the test's own on a free port (stoppable); killed after."""
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()
