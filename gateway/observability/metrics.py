"""Prometheus metrics, with label values kept bounded.

Operations are labelled by name (an unnamed one is `anonymous`, never its
text), upstream calls by route template (never a URL with SIDs). With several
worker processes, set `PROMETHEUS_MULTIPROC_DIR` (the CLI does) and every
worker's numbers are summed at scrape time.
"""

from __future__ import annotations

import os
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from gateway.observability.requests import operation_name
from gateway.studio import Attempt

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
#: Distinct operation names labelled before the rest become "other".
MAX_OPERATION_NAMES: Final = 200


_CIRCUIT_LEVELS: Final = {"closed": 0, "half_open": 1, "open": 2}


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Every metric the gateway exports, in one registry of its own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._names: set[str] = set()
        self.multiprocess = multiprocess_dir() is not None
        r = self.registry
        self.graphql_requests = Counter(
            "studio_gateway_graphql_requests",
            "GraphQL operations by name, type and outcome",
            ["operation", "type", "outcome"],
            registry=r,
        )
        self.graphql_seconds = Histogram(
            "studio_gateway_graphql_request_seconds",
            "GraphQL operation latency",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_calls = Counter(
            "studio_gateway_upstream_calls",
            "Attempts of upstream calls by operation, HTTP status and whether it was a retry",
            ["operation", "status", "retry"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "studio_gateway_upstream_call_seconds",
            "Upstream attempt latency by operation",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_in_flight = Gauge(
            "studio_gateway_upstream_in_flight",
            "Upstream calls on the wire",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.loader_batch = Histogram(
            "studio_gateway_dataloader_batch_size",
            "Keys per DataLoader batch",
            ["loader"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.asyncio_tasks = Gauge(
            "studio_gateway_asyncio_tasks",
            "asyncio tasks in the process",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.circuit_state = Gauge(
            "studio_gateway_upstream_circuit_state",
            "The upstream circuit: 0 closed, 1 half open, 2 open",
            registry=r,
            multiprocess_mode="max",
        )
        self.circuit_rejected = Gauge(
            "studio_gateway_upstream_circuit_rejected",
            "Calls refused while the circuit was open, since start",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.redis_up = Gauge(
            "studio_gateway_redis_up",
            "1 while the shared Redis answers, 0 while the replica serves from its process alone",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.redis_failures = Gauge(
            "studio_gateway_redis_failures",
            "Redis commands that failed or timed out, since start",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.cache_requests = Counter(
            "studio_gateway_cache_requests",
            "Cache look-ups by result, and the layer that answered (process, redis; none)",
            ["result", "layer"],
            registry=r,
        )

        self.events = Counter(
            "studio_gateway_events",
            "Event Streams: events by type (`other` for types not acted on, `event` for an "
            "unreadable one, `delivery` for a whole request) and outcome",
            ["type", "outcome"],
            registry=r,
        )

        self.websocket_connections = Gauge(
            "studio_gateway_websocket_connections",
            "Open GraphQL WebSocket connections",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.subscriptions = Gauge(
            "studio_gateway_subscriptions",
            "Subscriptions being served (executionUpdates, flowExecutions)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pollers = Gauge(
            "studio_gateway_pollers",
            "Pollers running: watched executions and flows read from the REST lists",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.subscription_updates = Counter(
            "studio_gateway_subscription_updates",
            "Live updates sent to subscribers (one per subscriber), by GraphQL type; "
            "the steps a subscription starts with are not counted",
            ["type"],
            registry=r,
        )
        self.live_recoveries = Counter(
            "studio_gateway_live_recoveries",
            "Faults live updates rode out, by kind: `fallback` (a watch polled while other "
            "replicas' events could not reach it), `repair` (a gap in a subscriber's "
            "updates filled), `retry` (a subscription's failed read tried again)",
            ["kind"],
            registry=r,
        )

    # -- hooks ------------------------------------------------------------------

    def observe_attempt(self, attempt: Attempt) -> None:
        status = str(attempt.status) if attempt.status is not None else attempt.outcome
        self.upstream_calls.labels(
            attempt.operation, status, "true" if attempt.attempt > 1 else "false"
        ).inc()
        self.upstream_seconds.labels(attempt.operation).observe(attempt.duration)

    def observe_operation(self, name: str | None, kind: str, outcome: str, seconds: float) -> None:
        self.graphql_requests.labels(self._label(name), kind, outcome).inc()
        self.graphql_seconds.labels(kind).observe(seconds)

    def _label(self, name: str | None) -> str:
        # Clients choose operation names: keep the label set bounded.
        if not name:
            return "anonymous"
        if name in self._names:
            return name
        if operation_name(name) and len(self._names) < MAX_OPERATION_NAMES:
            self._names.add(name)
            return name
        return "other"

    def sample(self, *, in_flight: int, tasks: int, circuit: Any) -> None:
        """Gauges read once a second (they work in every worker process)."""
        self.upstream_in_flight.set(in_flight)
        self.asyncio_tasks.set(tasks)
        self.circuit_state.set(_CIRCUIT_LEVELS.get(str(circuit.state.value), 0))
        self.circuit_rejected.set(circuit.rejected)

    def sample_redis(self, *, up: bool, failures: int) -> None:
        self.redis_up.set(1 if up else 0)
        self.redis_failures.set(failures)

    def sample_live(self, *, websockets: int, subscriptions: int, pollers: int) -> None:
        self.websocket_connections.set(websockets)
        self.subscriptions.set(subscriptions)
        self.pollers.set(pollers)

    def observe_update(self, kind: str) -> None:
        """A live update sent to one subscriber: `ExecutionStep` or `Execution`."""
        self.subscription_updates.labels(kind).inc()

    def observe_live(self, kind: str) -> None:
        """A fault live updates rode out: `fallback`, `repair` or `retry`."""
        self.live_recoveries.labels(kind).inc()

    def observe_batch(self, loader: str, size: int) -> None:
        self.loader_batch.labels(loader).observe(size)

    def observe_event(self, kind: str, outcome: str) -> None:
        self.events.labels(kind, outcome).inc()

    def observe_cache(self, layer: str | None) -> None:
        self.cache_requests.labels("hit" if layer else "miss", layer or "none").inc()

    # -- exposition -------------------------------------------------------------

    def render(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            # prometheus_client leaves this constructor unannotated.
            _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))
