"""The Starlette application: `/graphql` (with GraphiQL), `/healthz`, `/readyz`, `/metrics`.

GraphiQL, when on, is the gateway's own page and assets (`gateway.graphiql`).
The probes and the metrics are `gateway.admin`'s; with an admin port, the
lifespan serves them there too, and `/metrics` only there.

The lifespan builds what the process shares (`gateway.runtime.Gateway`: the
upstream transport with one connection pool and one in-flight bound, the
cache, metrics and tracing), hands it to every request in the lifespan state
(`request.state.gateway`), runs the SIGTERM drain and the gauges beside it
(`gateway.lifecycle`), and closes it all on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from gateway.admin import AdminServer, probe_routes
from gateway.cache import Cache, RedisCache
from gateway.endpoint import GatewayGraphQL
from gateway.events.intake import events_route
from gateway.graphiql import GraphiQL, GraphiQLPage, graphiql_off
from gateway.graphql.deadline import CancelOnDisconnect
from gateway.http.caching import HttpCaching
from gateway.http.compression import Compression
from gateway.lifecycle import drain_on_sigterm, sample_in_flight, tune_gc
from gateway.observability import Metrics
from gateway.observability.access import AccessLog
from gateway.observability.logs import log
from gateway.observability.tracing import Tracing
from gateway.runtime import (
    Gateway,
    build_gateway,
    cache_layers,
    cache_store,
    document_store,
    shared_redis,
)
from gateway.security.configured import authenticator
from gateway.security.documents import DocumentStore
from gateway.security.gate import GraphQLGate
from gateway.security.persisted import PersistedQueries, load_safelist
from gateway.settings import Settings, env_name
from gateway.studio import Credentials, Transport
from gateway.websocket import websocket_endpoint


def create_app(
    settings: Settings,
    *,
    transport: Transport | None = None,
    credentials: Credentials | None = None,
    cache: Cache | None = None,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
    documents: DocumentStore | None = None,
) -> Starlette:
    """The gateway app. Tests may hand in a transport (to the emulator), a cache, metrics,
    the persisted queries' store."""
    # One Redis connection per process, for the cache, the persisted queries and the limits.
    shared = cache.shared if isinstance(cache, RedisCache) else shared_redis(settings)
    store = cache if cache is not None else cache_store(shared)
    safelist = load_safelist(settings.safelist_file) if settings.safelist_file else None
    # Persisted queries never share the cache: a flood of them must not evict
    # upstream data. With a safelist, nothing a client sends is kept.
    owned_documents = documents is None and safelist is None and settings.persisted_queries
    if owned_documents:
        documents = document_store(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Gateway]]:
        gateway = build_gateway(
            settings,
            transport=transport,
            credentials=credentials,
            cache=cache_layers(settings, store) if settings.cache_ttl > 0 else None,
            metrics=metrics,
            tracing=tracing if tracing is not None else Tracing.from_env(os.environ),
            shared=shared,
        )
        gateway.store = store
        if gateway.shared is not None:
            await gateway.shared.connect()
        if gateway.cache is not None:
            await gateway.cache.start()
        restore = drain_on_sigterm(gateway, settings.drain_seconds, before_stop=sockets.go_away)
        sampler = asyncio.create_task(sample_in_flight(gateway, lambda: sockets.open))
        admin = None
        try:
            if settings.admin_port is not None:
                admin = await AdminServer.start(settings, gateway)
            elif not settings.development:
                # Readable by whoever reaches the port: operations, error rates, load.
                log(
                    logging.WARNING,
                    "/metrics is served on the public port: set STUDIO_GATEWAY_ADMIN_PORT "
                    "to serve it apart",
                )
            # Each request finds it in `request.state.gateway`.
            yield {"gateway": gateway}
        finally:
            if admin is not None:
                await admin.stop()
            sampler.cancel()
            restore()
            if gateway.cache is not None:
                await gateway.cache.stop()
            await gateway.aclose()
            if cache is None:
                await store.aclose()  # ours; a cache handed in belongs to the caller
            if owned_documents and documents is not None:
                await documents.aclose()

    graphql = GatewayGraphQL(
        settings,
        graphql_ide=None,  # ours, below: strawberry's loads it from a CDN
        allow_queries_via_get=True,
        multipart_uploads_enabled=False,
    )
    # The gate wraps the endpoint inside its route, not the app around the router:
    # whatever path or root path routes a request to GraphQL, it passes the gate.
    gated = gate = GraphQLGate(
        CancelOnDisconnect(graphql),
        authenticator=authenticator(settings),
        persisted=PersistedQueries(
            documents if safelist is None else None,
            apq=settings.persisted_queries,
            safelist=safelist,
            max_document_bytes=settings.persisted_query_max_bytes,
        ),
        passthrough=settings.upstream_credentials == "passthrough",
        max_body_bytes=settings.max_body_bytes,
        max_batch=settings.max_batch,
    )
    sockets = websocket_endpoint(graphql, settings, gate.authenticator, gate.persisted)
    routes = [
        Route("/graphql", gated, methods=["GET", "POST"]),
        sockets.route(),
        # With an admin port, /metrics is served there alone.
        *probe_routes(metrics=settings.admin_port is None),
    ]
    if settings.events:
        routes.append(events_route(settings))
    graphiql = GraphiQL.load() if settings.feature("graphiql") else None
    if graphiql is not None:
        routes.append(graphiql.route())
    app = Starlette(routes=routes, lifespan=lifespan)
    if graphiql is not None:
        # Outside the gate: the page holds no data, and a browser loading it sends
        # no credentials; GraphiQL's own requests then pass the gate like any client's.
        app.add_middleware(GraphiQLPage, page=graphiql.page_response)
    else:
        # A person who opens /graphql in a browser learns why there is no IDE.
        how = (
            f"set {env_name('graphiql')}=true (or {env_name('environment')}=development, "
            "which also turns on introspection and suggestions)"
        )
        app.add_middleware(GraphiQLPage, page=graphiql_off(how))
    app.add_middleware(
        Compression,
        min_bytes=settings.compress_min_bytes,
        thread_bytes=settings.compress_thread_bytes,
    )
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST"],
            allow_headers=settings.cors_allow_header_list(),
            expose_headers=["X-Request-ID"],
            max_age=settings.cors_max_age,
        )
    # Its ETag is over the bytes sent (compressed), and its Vary takes in the
    # Origin that CORS adds.
    app.add_middleware(HttpCaching)
    # Outermost: every response has an id and an access line, preflights and 405s too.
    app.add_middleware(AccessLog)
    return app


def app_from_env() -> Starlette:
    """The app as `studio-gateway serve` runs it (a factory, for uvicorn's workers)."""
    from gateway.observability import configure_logging
    from gateway.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    tune_gc()
    return app
