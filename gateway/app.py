"""The Starlette application: `/graphql` (with GraphiQL), `/healthz`, `/readyz`.

The lifespan owns what the process shares: the upstream transport (one
connection pool, one in-flight bound) and the cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from gateway.cache import Cache, MemoryCache, RedisCache
from gateway.graphql import Context, build_schema
from gateway.loaders import Loaders
from gateway.settings import Settings
from gateway.studio import Credentials, StudioClient, Transport


@dataclass
class Gateway:
    """What every request shares, built at start-up and closed at shutdown."""

    settings: Settings
    client: StudioClient
    cache: Cache | None

    def loaders(self) -> Loaders:
        return Loaders(self.client, self.cache, cache_ttl=self.settings.cache_ttl)

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.cache is not None:
            await self.cache.aclose()


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(self, gateway_ref: list[Gateway], **options: Any) -> None:
        super().__init__(build_schema(), **options)
        self._gateway_ref = gateway_ref

    async def get_context(self, request: Any, response: Any) -> Context:
        gateway = self._gateway_ref[0]
        return Context(new_loaders=gateway.loaders, request=request, response=response)


def create_app(
    settings: Settings,
    *,
    transport: Transport | None = None,
    credentials: Credentials | None = None,
    cache: Cache | None = None,
) -> Starlette:
    """The gateway app. Tests may hand in a transport (to the emulator) and a cache."""
    holder: list[Gateway] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway = build_gateway(settings, transport=transport, credentials=credentials, cache=cache)
        holder.append(gateway)
        try:
            yield
        finally:
            holder.clear()
            await gateway.aclose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if not holder:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready"})

    graphql = GatewayGraphQL(
        holder,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
        multipart_uploads_enabled=False,
    )
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


def build_gateway(
    settings: Settings,
    *,
    transport: Transport | None = None,
    credentials: Credentials | None = None,
    cache: Cache | None = None,
) -> Gateway:
    transport = transport or Transport(settings.client_config())
    client = StudioClient(transport, credentials or settings.credentials())
    if cache is None and settings.cache_ttl > 0:
        cache = RedisCache(settings.redis_url) if settings.redis_url else MemoryCache()
    return Gateway(settings=settings, client=client, cache=cache)


def app_from_env() -> Starlette:
    """The app as `studio-gateway serve` runs it (a factory, for uvicorn's workers)."""
    from gateway.settings import load_settings

    return create_app(load_settings())
