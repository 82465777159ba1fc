"""Several real `studio-gateway serve` processes on one Redis that the test starts itself.

The emulator runs in the test's process (on a socket), so its counters are
read directly; each replica is its own process; Redis is a `redis-server`
subprocess on a free port, killed (or restarted) by the test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.emulator import Emulator, create_app
from tests.app.conftest import Served, gateway_process
from tests.support import serve


@pytest.fixture
def upstream(emulator: Emulator) -> Iterator[str]:
    with serve(create_app(emulator)) as url:
        yield url


@dataclass
class Replicas:
    """Gateway processes sharing one Redis, and a GraphQL client for them."""

    served: list[Served]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def url(self, index: int) -> str:
        return f"{self.served[index].url}/graphql"

    def query(self, index: int, document: str, variables: dict[str, Any] | None = None) -> Any:
        response = self.http.post(
            self.url(index), json={"query": document, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, index: int, document: str, variables: dict[str, Any] | None = None) -> Any:
        result = self.query(index, document, variables)
        assert "errors" not in result, result["errors"]
        return result["data"]


@contextlib.contextmanager
def replicas(count: int, upstream: str, redis_url: str, **env: str) -> Iterator[Replicas]:
    """`count` gateways on one upstream and one Redis, with these settings."""
    with contextlib.ExitStack() as stack:
        served = [
            stack.enter_context(
                gateway_process(upstream, STUDIO_GATEWAY_REDIS_URL=redis_url, **env)
            )
            for _ in range(count)
        ]
        group = Replicas(served)
        stack.callback(group.http.close)
        yield group
