"""Concurrent misses on several replicas for one thing cost Twilio one call."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from gateway.cache import new_key
from gateway.emulator import DEMO_ACCOUNT_SID, Emulator
from tests.support import RedisServer, ended_ago, replicas

DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status context flowRevision { revision definition } steps { nodes { sid name } } } }"""


#: An execution, its steps and their contexts: with the credentials accepted, its
#: steps and their contexts are read ahead, beside the execution's own fetch.
Q2 = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status steps(first: 50) { nodes { sid name context } } } }"""

EXECUTION = "GET /v2/Flows/{FlowSid}/Executions/{Sid}"
STEPS = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
STEP_CONTEXT = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context"


async def at_once(
    urls: list[str], variables: dict[str, str], document: str = DETAIL
) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as http:
        return await asyncio.gather(
            *(http.post(url, json={"query": document, "variables": variables}) for url in urls)
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


@pytest.mark.parametrize(
    ("ago", "steps_fetches"),
    [(timedelta(days=1), 1), (timedelta(0), 3)],
    ids=["ended a day ago: kept, one fetch", "ended just now: not kept, each fetches"],
)
def test_three_replicas_reading_ahead_one_cold_execution_at_once(
    emulator: Emulator,
    upstream: str,
    redis_server: RedisServer,
    ago: timedelta,
    steps_fetches: int,
) -> None:
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    ended_ago(emulator, flow_sid, execution_sid, ago)
    steps = len(emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions[execution_sid].steps)
    variables = {"f": flow_sid, "e": execution_sid}
    keys = {"STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS": new_key()}
    with replicas(3, upstream, redis_server.url, **keys) as group:
        for index in range(3):  # Twilio accepts each replica's credentials: reads go ahead
            group.data(index, "{ flows(first: 1) { nodes { sid } } }")
        emulator.latency = 0.3  # long enough for all three to miss together
        emulator.reset_counters()
        responses = asyncio.run(at_once([group.url(i) for i in range(3)], variables, Q2))
    bodies = [r.json() for r in responses]
    assert all("errors" not in body for body in bodies), bodies[0]
    assert bodies[0] == bodies[1] == bodies[2]
    assert len(bodies[0]["data"]["execution"]["steps"]["nodes"]) == steps > 0
    # The first replica to miss reads the steps ahead under the fill lock; the
    # others wait for it, and find them kept, or fetch them themselves.
    counted = Counter({k: v for k, v in emulator.requests.items() if v})
    assert counted[EXECUTION] == 1
    assert counted[STEPS] == steps_fetches
    if steps_fetches == 1:
        assert counted == Counter({EXECUTION: 1, STEPS: 1, STEP_CONTEXT: steps})
