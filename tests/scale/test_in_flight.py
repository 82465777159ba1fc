"""An account-wide bound on upstream calls in flight holds across replicas."""

from __future__ import annotations

import asyncio

import httpx

from gateway.emulator import Emulator
from tests.support import RedisServer, replicas

FAN_OUT = "{ flows { nodes { sid executions(first: 2) { nodes { sid } } revisions(first: 1) { nodes { revision } } } } }"


async def together(urls: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as http:
        return await asyncio.gather(*(http.post(url, json={"query": FAN_OUT}) for url in urls))


def test_two_replicas_never_have_more_calls_in_flight_than_the_account_allows(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    with replicas(2, upstream, redis_server.url, STUDIO_GATEWAY_ACCOUNT_MAX_IN_FLIGHT="3") as group:
        emulator.latency = 0.1
        emulator.reset_counters()
        responses = asyncio.run(together([group.url(0), group.url(1)] * 2))
    assert all("errors" not in r.json() for r in responses)
    assert emulator.total_requests >= 20
    assert emulator.max_in_flight == 3
