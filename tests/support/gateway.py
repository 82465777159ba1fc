"""The gateway app in front of the emulator, over httpx's ASGI transport: its
settings for tests, a small GraphQL client, and the production-mode gateway the
security tests attack."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.app import create_app
from gateway.cache import Cache
from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from gateway.security.documents import DocumentStore
from gateway.settings import Settings
from gateway.studio import Transport
from tests.support.emulator import asgi_transport
from tests.support.graphql import query
from tests.support.servers import asgi_client


def gateway_settings(**overrides: Any) -> Settings:
    """Settings for a gateway in front of the demo account, development mode, no cache."""
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
        self.last = await query(self.http, document, variables)
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
    """The gateway (`gateway_settings` with these overrides) over ASGI, while iterated."""
    app = create_app(gateway_settings(**settings), transport=asgi_transport(emulator), cache=cache)
    async with asgi_client(app, base_url="http://gateway.test") as http:
        yield Gateway(http, emulator)


@asynccontextmanager
async def secured(
    emulator: Emulator,
    *,
    transport: Transport | None = None,
    cache: Cache | None = None,
    documents: DocumentStore | None = None,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with production defaults (and the real limits) unless told otherwise.

    A test that watches the gateway's upstream calls hands in the `transport` to the emulator.
    """
    values: dict[str, Any] = {"environment": "production", "max_cost": 500, **settings}
    app = create_app(
        gateway_settings(**values),
        transport=transport or asgi_transport(emulator),
        cache=cache,
        documents=documents,
    )
    async with asgi_client(app) as http:
        yield http


def basic(sid: str, token: str) -> dict[str, str]:
    """The Authorization header of a pass-through caller."""
    return {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}
