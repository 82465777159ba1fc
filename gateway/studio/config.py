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
    connection failed before the request went out.
    """

    max_attempts: int = 3
    #: First back-off wait; each further one doubles, with full jitter.
    backoff: float = 0.2
    max_backoff: float = 5.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class ClientConfig:
    base_url: str = "https://studio.twilio.com"
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Upstream calls in flight at once, across everything sharing the client.
    max_in_flight: int = 50
    #: Keep-alive connections kept open in the pool.
    max_keepalive: int = 20
    #: A body larger than this is refused as malformed: no real page is this big.
    max_response_bytes: int = 16 * 1024 * 1024
    user_agent: str = "studio-gateway"
