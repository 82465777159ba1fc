"""Concurrent misses on several replicas for one thing cost Twilio one call."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from gateway.cache import new_key
from gateway.emulator import Emulator
from tests.support import RedisServer, replicas

DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status context flowRevision { revision definition } steps { nodes { sid name } } } }"""


async def at_once(urls: list[str], variables: dict[str, str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as http:
        return await asyncio.gather(
            *(http.post(url, json={"query": DETAIL, "variables": variables}) for url in urls)
        )


def test_three_replicas_missing_one_execution_at_once_make_one_call_for_each_part(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    variables = {"f": flow_sid, "e": execution_sid}
    keys = {"STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS": new_key()}
    with replicas(3, upstream, redis_server.url, **keys) as group:
        emulator.latency = 0.3  # long enough for all three to miss together
        emulator.reset_counters()
        responses = asyncio.run(at_once([group.url(i) for i in range(3)], variables))
    bodies = [r.json() for r in responses]
    assert all("errors" not in body for body in bodies), bodies[0]
    assert bodies[0] == bodies[1] == bodies[2]
    assert Counter(emulator.requests) == Counter(
        {
            "GET /v2/Flows/{FlowSid}/Executions/{Sid}": 1,
            "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context": 1,
            "GET /v2/Flows/{Sid}/Revisions/{Revision}": 1,
            "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps": 1,
        }
    )
