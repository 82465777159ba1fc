"""The fault matrix's rig: the emulator and the gateway, each on a real socket.

The emulator (the upstream) is served by uvicorn on 127.0.0.1, so faults are
real: a hang holds a connection open, a drop breaks it mid-body, a refused
connection is a closed port. The gateway is served the same way, as in
production, with `CancelOnDisconnect` around it, so a client that hangs up is
a real TCP close.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.graphql.deadline import CancelOnDisconnect
from gateway.studio import ClientConfig, RetryPolicy, Timeouts, Transport
from tests.support.gateway import gateway_settings
from tests.support.graphql import query
from tests.support.servers import serve

#: Quick retries; a call deadline short enough to test, long enough for latency.
RETRY = RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.05)
#: Generous for a loaded machine (an answer that takes a second is not a fault here);
#: tests of the deadline itself set their own.
TIMEOUTS = Timeouts(connect=2.0, read=3.0, deadline=4.0)

#: Every code a fault may surface as; anything else is a bug.
UPSTREAM_CODES = {
    "UPSTREAM_UNAVAILABLE",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_MALFORMED_RESPONSE",
    "RATE_LIMITED",
}


@dataclass
class Rig:
    """The gateway's URL and transport, the upstream's emulator, and a GraphQL client."""

    url: str
    transport: Transport
    emulator: Emulator
    http: httpx.AsyncClient
    last: dict[str, Any] = field(default_factory=dict)

    async def query(
        self, document: str, variables: dict[str, Any] | None = None, *, fresh: bool = True
    ) -> dict[str, Any]:
        """POST an operation; the answer must be HTTP 200 with a valid GraphQL body."""
        if fresh:
            self.emulator.reset_counters()
        body = await query(self.http, document, variables)
        assert set(body) <= {"data", "errors", "extensions"} and "data" in body, body
        for error in body.get("errors", []):
            assert isinstance(error["message"], str) and error["message"]
            assert "Traceback" not in error["message"] and "127.0.0.1" not in error["message"]
        self.last = body
        return body

    @property
    def calls(self) -> int:
        return self.emulator.total_requests


@contextlib.contextmanager
def served_gateway(upstream_url: str, **config: Any) -> Iterator[tuple[str, Transport]]:
    """The gateway app on a real socket, over a transport to `upstream_url`."""
    settings: dict[str, Any] = {
        "base_url": upstream_url,
        "retry": RETRY,
        "timeouts": TIMEOUTS,
        **config,
    }
    transport = Transport(ClientConfig(**settings))
    app = create_app(gateway_settings(upstream_url=upstream_url), transport=transport)
    with serve(CancelOnDisconnect(app)) as url:
        yield url, transport


@contextlib.asynccontextmanager
async def open_rig(emulator: Emulator, upstream_url: str, **config: Any) -> AsyncIterator[Rig]:
    """The rig over the upstream at `upstream_url` (transport `config` overrides)."""
    with served_gateway(upstream_url, **config) as (url, transport):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            yield Rig(url, transport, emulator, http)
