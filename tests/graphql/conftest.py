"""A gateway in front of the emulator, and a small GraphQL client for tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.cache import Cache
from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from gateway.settings import Settings
from tests.conftest import asgi_transport
from tests.support import asgi_client


def gateway_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "upstream_url": "http://emulator.test",
        "twilio_account_sid": DEMO_ACCOUNT_SID,
        "twilio_auth_token": DEMO_AUTH_TOKEN,
        "cache_ttl": 0,
        # The call-count matrix asks for wide pages; the limits have suites of their own.
        "max_cost": 100_000,
        "environment": "development",
        **overrides,
    }
    return Settings(**values)


@dataclass
class Gateway:
    """Posts GraphQL to the gateway app and reads what the upstream saw."""

    http: httpx.AsyncClient
    emulator: Emulator
    last: dict[str, Any] = field(default_factory=dict)

    async def query(
        self, document: str, variables: dict[str, Any] | None = None, *, fresh: bool = True
    ) -> dict[str, Any]:
        """Run an operation; `fresh` zeroes the emulator's counters first."""
        if fresh:
            self.emulator.reset_counters()
        response = await self.http.post(
            "/graphql", json={"query": document, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        self.last = response.json()
        return self.last

    async def data(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        """Run an operation that must succeed; its `data`."""
        result = await self.query(document, variables)
        assert "errors" not in result, result["errors"]
        return result["data"]

    @property
    def calls(self) -> Counter[str]:
        return Counter({k: v for k, v in self.emulator.requests.items() if v})

    @property
    def total_calls(self) -> int:
        return self.emulator.total_requests


async def open_gateway(
    emulator: Emulator, cache: Cache | None = None, **settings: Any
) -> AsyncIterator[Gateway]:
    app = create_app(gateway_settings(**settings), transport=asgi_transport(emulator), cache=cache)
    async with asgi_client(app, base_url="http://gateway.test") as http:
        yield Gateway(http, emulator)


@pytest.fixture
async def gateway(emulator: Emulator) -> AsyncIterator[Gateway]:
    async for gw in open_gateway(emulator):
        yield gw
