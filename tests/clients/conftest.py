"""A demo-like gateway (development mode, the real limits) on a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.app import create_app
from tests.support import gateway_settings, serve


@pytest.fixture
def gateway_url(emulator_url: str) -> Iterator[str]:
    """The gateway as `make demo` runs it, in front of the emulator; its base URL."""
    settings = gateway_settings(upstream_url=emulator_url, environment="development", max_cost=500)
    with serve(create_app(settings)) as url:
        yield url
