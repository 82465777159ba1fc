"""What every request shares, and how it is built from the settings.

`Gateway` holds the upstream client (one connection pool, one in-flight bound),
the cache, metrics, tracing, the shared Redis and the event broker; the app's
lifespan builds it with `build_gateway` and hands it to each request in the
lifespan state (`request.state.gateway`). `UpstreamState` is what the last
upstream answers said, for `/readyz`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from gateway import __version__
from gateway.cache import Cache, LayeredCache, MemoryCache, RedisCache
from gateway.events import Broker, LocalBroker
from gateway.events.redis import RedisBroker
from gateway.events.watch import Live, LiveConfig
from gateway.graphql import Context
from gateway.graphql.limits import Limits
from gateway.graphql.update_reads import CallBudget, UpdateReads
from gateway.loaders import Loaders
from gateway.observability import Metrics, current_request
from gateway.observability.logs import log
from gateway.observability.tracing import Tracing
from gateway.security.configured import server_credentials
from gateway.security.documents import DocumentStore, RedisDocuments
from gateway.security.principal import NOBODY
from gateway.settings import Settings
from gateway.shared import RedisSemaphore, RedisSlidingWindow, SharedRedis
from gateway.studio import Attempt, Credentials, StudioClient, Transport
from gateway.studio.limits import SlidingWindow


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
    #: What subscription updates read, shared among their subscribers and paid from
    #: each principal's budget (gateway.graphql.update_reads).
    updates: UpdateReads = field(default_factory=lambda: UpdateReads(CallBudget(0)))
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
        return Limits.configured(self.settings)

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
                # its create window, its bound on calls in flight.
                "serving": "shared" if up else "process alone",
                "failures": shared.failures,
                "recoveries": shared.recoveries,
            }
        # Upstream trouble is reported, never fatal: a Twilio outage must not
        # empty the load balancer's pool.
        body = {
            "status": "ready" if ready else "not ready",
            "version": __version__,
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
    """The gateway over `transport` (Twilio's, from the settings, by default); with
    `shared`, the create window and the account's call slots span the replicas."""
    transport = transport or Transport(settings.client_config())
    client = StudioClient(transport, credentials or server_credentials(settings))
    own_window = transport.create_limiter
    if shared is not None and isinstance(own_window, SlidingWindow) and settings.create_rate:
        # One window per account for every replica; the process's own while Redis is away.
        transport.create_limiter = RedisSlidingWindow(
            shared, own_window.window, fallback=own_window
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
        broker=RedisBroker(shared, cipher=settings.cache_cipher()) if shared else LocalBroker(),
        updates=UpdateReads(CallBudget(settings.subscription_calls_per_minute)),
    )
    if cache is not None:
        cache.observer = gateway.metrics
    transport.observers.append(gateway.observe_attempt)
    gateway.live = Live(
        lambda: gateway.broker,
        LiveConfig.configured(settings),
        shared=shared,
        observer=gateway.metrics,
    )
    return gateway


def cache_store(shared: SharedRedis | None) -> Cache:
    """The cache's backend: the shared Redis when there is one, else the process."""
    return RedisCache(shared) if shared is not None else MemoryCache()


def cache_layers(settings: Settings, store: Cache) -> LayeredCache:
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


def shared_redis(settings: Settings) -> SharedRedis | None:
    """The one Redis connection of the process, when `redis_url` is set."""
    if not settings.redis_url:
        return None
    return SharedRedis(settings.redis_url, timeout=settings.redis_timeout)


def document_store(settings: Settings) -> DocumentStore:
    """Where persisted queries are kept: the process, and Redis when configured."""
    bound = settings.persisted_queries_max_bytes
    redis = None
    if settings.redis_url:
        redis = RedisDocuments(
            settings.redis_url, prefix="studio-gateway:persisted:", max_bytes=bound
        )
    return DocumentStore(bound, redis)
