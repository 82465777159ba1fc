"""Fixtures shared by every suite: a seeded emulator, served over ASGI or a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app
from gateway.studio import ClientConfig, Credentials, RetryPolicy, StudioClient, Transport
from tests.support import serve

#: Small, fast retries for tests: same policy, shorter waits.
FAST_RETRY = RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.05)


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


def asgi_transport(emulator: Emulator, config: ClientConfig | None = None) -> Transport:
    config = config or ClientConfig(base_url="http://emulator.test", retry=FAST_RETRY)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(emulator)), base_url=config.base_url
    )
    return Transport(config, http=http)


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
