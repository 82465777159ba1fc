"""A gateway in production mode with the security settings a test asks for."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gateway.app import create_app
from gateway.cache import Cache
from gateway.emulator import Emulator
from gateway.security.documents import DocumentStore
from gateway.studio import Transport
from tests.conftest import asgi_transport
from tests.graphql.conftest import gateway_settings
from tests.support import asgi_client
from tests.support import codes as codes

Open = Callable[..., Any]


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
