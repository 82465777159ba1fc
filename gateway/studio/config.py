"""Small value objects that configure the client's transport."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `connect` and `read` bound one attempt; `deadline` bounds a
    whole call, all its attempts and back-off waits together."""

    connect: float = 3.0
    read: float = 10.0
    deadline: float = 15.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failed call is tried again.

    GET and DELETE are retried on 429, 502, 503, 504 and broken connections.
    A POST is retried only when Twilio says it processed nothing (429) or the
    connection failed before the request went out. A create answered 429 is
    retried within `ClientConfig.create_wait` instead of `max_attempts`.
    """

    max_attempts: int = 3
    #: First back-off wait; each further one doubles, with full jitter.
    backoff: float = 0.2
    max_backoff: float = 5.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryBudgetPolicy:
    """How much retries may add to upstream traffic, across the whole process.

    Over the last `window` seconds, retries may number at most `ratio` times
    the calls (first attempts), plus `min_retries` so a quiet process can still
    retry. When the budget is spent a failed call fails at once with its error:
    in an outage, retries would only multiply the load on an upstream that is
    already failing. `enabled=False` lifts the cap (per-call limits still hold).
    """

    ratio: float = 0.2
    min_retries: int = 10
    window: float = 10.0
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """When to stop calling an upstream that keeps failing, and when to try again.

    The circuit opens when, over the last `window` seconds, at least `min_calls`
    attempts were made and `failure_ratio` of them failed (5xx, timeouts,
    network errors, malformed answers; never a 4xx or 429, which a healthy
    upstream sends). While open, calls fail at once without touching the
    network. After `cooldown` seconds, `trial_calls` calls go through
    (half-open): all succeeding closes the circuit, any failing re-opens it.
    `enabled=False` never opens it but still counts, for metrics.
    """

    failure_ratio: float = 0.5
    min_calls: int = 20
    window: float = 10.0
    cooldown: float = 5.0
    trial_calls: int = 3
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ClientConfig:
    base_url: str = "https://studio.twilio.com"
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    retry_budget: RetryBudgetPolicy = field(default_factory=RetryBudgetPolicy)
    circuit: CircuitPolicy = field(default_factory=CircuitPolicy)
    #: Identical GETs in flight at once (same credentials, path and query) share
    #: one upstream call.
    single_flight: bool = True
    #: Upstream calls in flight at once, across everything sharing the client.
    max_in_flight: int = 50
    #: Executions created per second per account (Twilio's documented REST limit
    #: is 20), in any one-second window; a create over it waits for its turn,
    #: and a create Twilio answers 429 waits as Twilio asks and goes again, for
    #: up to `create_wait` seconds in all, then fails as rate limited. None: no
    #: pacing (a 429 is still waited out within `create_wait`).
    create_rate: float | None = 20.0
    create_wait: float = 2.0
    #: Seconds for the one look at the flow's executions after a create that got
    #: no answer saying whether it ran (`gateway.studio.outcome`).
    create_lookup: float = 5.0
    #: Upstream calls in flight at once per account, across every process that
    #: shares the transport's `account_slots`. None: no account-wide bound.
    account_max_in_flight: int | None = None
    #: Seconds an idle upstream connection stays open for the next call.
    keepalive_seconds: float = 5.0
    #: A body larger than this is refused as malformed: no real page is this big.
    max_response_bytes: int = 16 * 1024 * 1024
    user_agent: str = "studio-gateway"
