"""The Starlette application: `/graphql` (with GraphiQL), `/healthz`, `/readyz`, `/metrics`.

GraphiQL, when on, is the gateway's own page and assets (`gateway.graphiql`).

The lifespan owns what the process shares: the upstream transport (one
connection pool, one in-flight bound), the cache, metrics and tracing; it
closes them on shutdown. On SIGTERM readiness turns 503 at once; after the
drain delay the server stops accepting, lets in-flight requests finish
(bounded by the grace period) and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import AsyncHTTPRequestAdapter
from graphql import ExperimentalIncrementalExecutionResults
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType

from gateway.cache import Cache, LayeredCache, MemoryCache, RedisCache
from gateway.events import Broker, LocalBroker
from gateway.events.watch import Live
from gateway.graphiql import GraphiQL, GraphiQLPage
from gateway.graphql import Context, build_schema
from gateway.graphql.deadline import CancelOnDisconnect
from gateway.graphql.incremental import (
    DeferSpecMultipart,
    accepts_incremental,
    execute_incrementally,
    may_be_incremental,
)
from gateway.graphql.limits import BatchOperation, Limits, price_batch
from gateway.http.caching import HttpCaching
from gateway.http.compression import Compression
from gateway.http.view import GraphQLView
from gateway.loaders import Loaders
from gateway.observability import Metrics, current_request
from gateway.observability.access import AccessLog
from gateway.observability.logs import log
from gateway.observability.tracing import Tracing
from gateway.security.auth import (
    ApiKeyAuthentication,
    Authenticator,
    JwtAuthentication,
    NoAuthentication,
    parse_api_keys,
)
from gateway.security.documents import DocumentStore, RedisDocuments
from gateway.security.gate import GraphQLGate
from gateway.security.persisted import PersistedQueries, load_safelist
from gateway.security.principal import NOBODY
from gateway.settings import Settings
from gateway.shared import RedisSemaphore, RedisTokenBucket, SharedRedis
from gateway.studio import Attempt, Credentials, StudioClient, Transport
from gateway.studio.limits import create_burst
from gateway.websocket import websocket_route

if TYPE_CHECKING:
    from cross_web import AsyncHTTPRequestAdapter  # strawberry's, in its own signature


@dataclass
class UpstreamState:
    """What the last upstream answers said, for /readyz. Never causes a call."""

    last_status: int | None = None
    last_outcome: str | None = None
    last_seen: float | None = None
    credentials: str = "unknown"

    def observe(self, attempt: Attempt) -> None:
        self.last_status = attempt.status
        self.last_outcome = attempt.outcome
        self.last_seen = time.time()
        if attempt.status in (401, 403):
            self.credentials = "rejected"
        elif attempt.status is not None and attempt.status < 400:
            self.credentials = "accepted"

    def as_json(self) -> dict[str, Any]:
        return {
            "last_status": self.last_status,
            "last_outcome": self.last_outcome,
            "seconds_since_last_answer": (
                round(time.time() - self.last_seen, 1) if self.last_seen else None
            ),
            "credentials": self.credentials,
        }


@dataclass
class Gateway:
    """What every request shares, built at start-up and closed at shutdown."""

    settings: Settings
    client: StudioClient
    #: The cache of upstream data (process, then Redis); None when caching is off.
    cache: LayeredCache | None
    metrics: Metrics
    #: The cache's backend (also when caching is off: /readyz pings its Redis).
    store: Cache | None = None
    #: The Redis the replicas share (account-wide limits), when configured.
    shared: SharedRedis | None = None
    tracing: Tracing | None = None
    upstream: UpstreamState = field(default_factory=UpstreamState)
    #: Where Studio events meet subscriptions (Redis pub/sub across replicas when shared).
    broker: Broker = field(default_factory=LocalBroker)
    #: The watches subscriptions read (over `broker`; see gateway.events.watch).
    live: Live | None = None
    draining: bool = False

    def loaders(self, credentials: Credentials | None = None) -> Loaders:
        client = self.client if credentials is None else self.client.with_credentials(credentials)
        return Loaders(client, self.cache, observer=self.metrics)

    def context(self, request: Any, response: Any) -> Context:
        state = request.scope.get("state", {}) if request is not None else {}
        credentials = state.get("credentials")
        return Context(
            new_loaders=lambda: self.loaders(credentials),
            request=request,
            response=response,
            metrics=self.metrics,
            tracing=self.tracing,
            # The gate wraps the route and always sets it; without it, no scope.
            principal=state.get("principal", NOBODY),
            limits=self.limits,
            request_deadline=self.settings.request_deadline or None,
            live=self.live,
        )

    @property
    def limits(self) -> Limits:
        s = self.settings
        return Limits(
            max_depth=s.max_depth,
            max_aliases=s.max_aliases,
            max_root_fields=s.max_root_fields,
            max_tokens=s.max_tokens,
            max_directives=s.max_directives,
            max_cost=s.max_cost,
        )

    def observe_attempt(self, attempt: Attempt) -> None:
        """Every upstream attempt: metrics, the request's count, readiness, a log on failure."""
        self.metrics.observe_attempt(attempt)
        self.upstream.observe(attempt)
        info = current_request()
        if info is not None:
            info.upstream_calls += 1
        if self.tracing is not None:
            self.tracing.observe_attempt(attempt)
        if attempt.outcome != "ok":
            log(
                logging.WARNING,
                "upstream call failed",
                operation=attempt.operation,
                status=attempt.status,
                outcome=attempt.outcome,
                attempt=attempt.attempt,
                will_retry=attempt.will_retry,
            )

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, str] = {"config": "ok", "draining": "yes" if self.draining else "no"}
        ready = not self.draining
        redis: dict[str, Any] | None = None
        if isinstance(self.store, RedisCache):
            # A ping within the Redis timeout; it also lets a replica notice Redis is back.
            up = await self.store.ping()
            checks["redis"] = "ok" if up else "unreachable"
            ready = ready and (up or not self.settings.redis_required)
            shared = self.store.shared
            redis = {
                "state": "up" if up else "down",
                # Without Redis each replica serves from its own process: its cache,
                # its create bucket, its bound on calls in flight.
                "serving": "shared" if up else "process alone",
                "failures": shared.failures,
                "recoveries": shared.recoveries,
            }
        # Upstream trouble is reported, never fatal: a Twilio outage must not
        # empty the load balancer's pool.
        body = {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "upstream": {
                **self.upstream.as_json(),
                "circuit": self.client.transport.circuit.stats.as_dict(),
            },
        }
        if redis is not None:
            body["redis"] = redis
        return ready, body

    async def aclose(self) -> None:
        if self.live is not None:
            await self.live.aclose()
        await self.broker.aclose()
        await self.client.aclose()


class GatewayGraphQL(GraphQLView):
    #: A deferred answer goes out as deferSpec=20220824 multipart (see gateway.graphql.incremental).
    multipart_transport_class = DeferSpecMultipart

    def __init__(self, holder: list[Gateway], settings: Settings, **options: Any) -> None:
        schema = build_schema(
            introspection=settings.feature("introspection"),
            suggestions=settings.feature("suggestions"),
            max_batch=settings.max_batch,
        )
        super().__init__(schema, cache_max_age=settings.http_cache_max_age, **options)
        self._holder = holder
        self._graphql_schema = schema._schema  # graphql-core's, for pricing a batch

    async def get_context(self, request: Any, response: Any) -> Context:
        return self._holder[0].context(request, response)

    # The base view's annotation lacks the incremental result its `run` streams.
    async def execute_operation(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> (
        ExecutionResult
        | list[ExecutionResult]
        | SubscriptionExecutionResult
        | ExperimentalIncrementalExecutionResults
    ):
        """Run the request's operation(s).

        A single operation that may defer, for a client that reads multipart, is
        answered in parts. A batch is budgeted as a whole, before any of its
        operations starts: strawberry runs them side by side, sharing this one
        context, and each operation's EnforceLimits refuses itself when the batch is.
        """
        if (
            isinstance(request_data, GraphQLRequestData)
            and may_be_incremental(request_data.query)
            and accepts_incremental(request.headers.get("accept", ""))
        ):
            method = request_adapter.method
            allowed = OperationType.from_http(method)
            if method == "GET" and not self.allow_queries_via_get:
                allowed -= {OperationType.QUERY}
            return await execute_incrementally(
                self.schema, request_data, context, root_value, allowed, method
            )
        if isinstance(request_data, list) and context.limits is not None:
            context.batch_refusal = price_batch(
                self._graphql_schema,
                [BatchOperation(d.query, d.operation_name, d.variables) for d in request_data],
                context.limits,
            )
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    def encode_json(self, data: object) -> str | bytes:
        """orjson: several times faster than the standard library on a large answer."""
        try:
            return orjson.dumps(data)
        except TypeError:
            # What orjson refuses and the standard library writes (an integer past
            # 64 bits in an upstream JSON value): the slow path, the same bytes.
            return super().encode_json(data)


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
    holder: list[Gateway] = []
    # One Redis connection per process, for the cache, the persisted queries and the limits.
    shared = cache.shared if isinstance(cache, RedisCache) else _shared(settings)
    store = cache if cache is not None else _store(shared)
    safelist = load_safelist(settings.safelist_file) if settings.safelist_file else None
    # Persisted queries never share the cache: a flood of them must not evict
    # upstream data. With a safelist, nothing a client sends is kept.
    owned_documents = documents is None and safelist is None and settings.persisted_queries
    if owned_documents:
        documents = _documents(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway = build_gateway(
            settings,
            transport=transport,
            credentials=credentials,
            cache=_layers(settings, store) if settings.cache_ttl > 0 else None,
            metrics=metrics,
            tracing=tracing if tracing is not None else Tracing.from_env(os.environ),
            shared=shared,
        )
        gateway.store = store
        if gateway.shared is not None:
            await gateway.shared.connect()
        if gateway.cache is not None:
            await gateway.cache.start()
        holder.append(gateway)
        restore = _drain_on_sigterm(gateway, settings.drain_seconds)
        sampler = asyncio.create_task(_sample_in_flight(gateway))
        try:
            yield
        finally:
            sampler.cancel()
            restore()
            holder.clear()
            if gateway.cache is not None:
                await gateway.cache.stop()
            await gateway.aclose()
            if cache is None:
                await store.aclose()  # ours; a cache handed in belongs to the caller
            if owned_documents and documents is not None:
                await documents.aclose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if not holder:
            return JSONResponse({"status": "starting"}, status_code=503)
        ready, body = await holder[0].readiness()
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        if not holder:
            return Response(status_code=503)
        exported = holder[0].metrics
        return Response(exported.render(), media_type=exported.content_type)

    graphql = GatewayGraphQL(
        holder,
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
    routes = [
        Route("/graphql", gated, methods=["GET", "POST"]),
        websocket_route(
            graphql, lambda: holder[0] if holder else None, settings, gate.authenticator
        ),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]
    graphiql = GraphiQL.load() if settings.feature("graphiql") else None
    if graphiql is not None:
        routes.append(graphiql.route())
    app = Starlette(routes=routes, lifespan=lifespan)
    if graphiql is not None:
        # Outside the gate: the page holds no data, and a browser loading it sends
        # no credentials; GraphiQL's own requests then pass the gate like any client's.
        app.add_middleware(GraphiQLPage, graphiql=graphiql)
    app.add_middleware(Compression, min_bytes=settings.compress_min_bytes)
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


def _server_credentials(settings: Settings) -> Credentials:
    if settings.upstream_credentials == "passthrough" and not settings.twilio_account_sid:
        # Every request brings its own; this placeholder is never sent anywhere.
        return Credentials.auth_token("AC" + "0" * 32, "pass-through")
    return settings.credentials()


def authenticator(settings: Settings) -> Authenticator:
    if settings.auth == "api_keys":
        text = settings.api_keys
        if settings.api_keys_file:
            text = Path(settings.api_keys_file).read_text(encoding="utf-8")
        return ApiKeyAuthentication(
            parse_api_keys(text or "[]"),
            bearer=settings.upstream_credentials != "passthrough",
        )
    if settings.auth == "jwt":
        return JwtAuthentication(
            algorithms=settings.jwt_algorithm_list(),
            key=settings.jwt_key.get_secret_value() if settings.jwt_key else None,
            jwks_url=settings.jwt_jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway,
            jwks_refresh_cooldown=settings.jwt_jwks_refresh_cooldown,
        )
    return NoAuthentication()


def _store(shared: SharedRedis | None) -> Cache:
    return RedisCache(shared) if shared is not None else MemoryCache()


def _layers(settings: Settings, store: Cache) -> LayeredCache:
    """The process layer first, then Redis when the store is Redis."""
    if isinstance(store, MemoryCache):
        return LayeredCache(store, ttl=settings.cache_ttl)
    remote = store if isinstance(store, RedisCache) else None
    return LayeredCache(
        MemoryCache(settings.cache_max_entries),
        remote,
        cipher=settings.cache_cipher(),
        ttl=settings.cache_ttl,
        # A fetch holds its lock no longer than one upstream call may take.
        fill_wait=settings.call_deadline,
    )


def _shared(settings: Settings) -> SharedRedis | None:
    if not settings.redis_url:
        return None
    return SharedRedis(settings.redis_url, timeout=settings.redis_timeout)


def _documents(settings: Settings) -> DocumentStore:
    bound = settings.persisted_queries_max_bytes
    redis = None
    if settings.redis_url:
        redis = RedisDocuments(
            settings.redis_url, prefix="studio-gateway:persisted:", max_bytes=bound
        )
    return DocumentStore(bound, redis)


def build_gateway(
    settings: Settings,
    *,
    transport: Transport | None = None,
    credentials: Credentials | None = None,
    cache: LayeredCache | None = None,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
    shared: SharedRedis | None = None,
) -> Gateway:
    transport = transport or Transport(settings.client_config())
    client = StudioClient(transport, credentials or _server_credentials(settings))
    if shared is not None and transport.create_limiter is not None and settings.create_rate:
        # One bucket per account for every replica; the process's own while Redis is away.
        transport.create_limiter = RedisTokenBucket(
            shared,
            settings.create_rate,
            create_burst(settings.create_rate),
            fallback=transport.create_limiter,
        )
    if (
        shared is not None
        and transport.account_slots is not None
        and settings.account_max_in_flight
    ):
        # Slots for the account across replicas; a lease outlives the call it guards.
        transport.account_slots = RedisSemaphore(
            shared,
            settings.account_max_in_flight,
            lease=transport.config.timeouts.deadline + 1.0,
            fallback=transport.account_slots,
        )
    gateway = Gateway(
        settings=settings,
        client=client,
        cache=cache,
        metrics=metrics or Metrics(),
        tracing=tracing,
        shared=shared,
    )
    if cache is not None:
        cache.observer = gateway.metrics
    transport.observers.append(gateway.observe_attempt)
    gateway.live = Live(lambda: gateway.broker, settings.live_config(), shared=shared)
    return gateway


def _drain_on_sigterm(gateway: Gateway, drain_seconds: float) -> Callable[[], None]:
    """Chain onto the server's SIGTERM handler: mark draining now, stop after the drain.

    Only possible on the main thread (a real server); elsewhere it does nothing.
    """
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:
        return lambda: None
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: Any) -> None:
        gateway.draining = True
        log(logging.INFO, "draining", drain_seconds=drain_seconds)
        if callable(previous):
            # Signal handlers must not touch the loop directly; this call is safe.
            loop.call_soon_threadsafe(loop.call_later, drain_seconds, previous, signum, frame)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)

    return restore


async def _sample_in_flight(gateway: Gateway) -> None:
    # A gauge sampled each second works in every process of a multi-worker server.
    transport = gateway.client.transport
    while True:
        gateway.metrics.sample(
            in_flight=transport.in_flight,
            tasks=len(asyncio.all_tasks()),
            circuit=transport.circuit.stats,
        )
        if gateway.shared is not None:
            gateway.metrics.sample_redis(up=gateway.shared.up, failures=gateway.shared.failures)
        await asyncio.sleep(1.0)


def app_from_env() -> Starlette:
    """The app as `studio-gateway serve` runs it (a factory, for uvicorn's workers)."""
    from gateway.observability import configure_logging
    from gateway.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
