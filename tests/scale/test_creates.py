"""Twilio's create limit holds for the account across replicas: one bucket in Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from gateway.emulator import Emulator
from tests.support import RedisServer, replicas

CREATE = """mutation($f: ID!, $to: String!) {
  createExecution(flowSid: $f, to: $to, from: "+14155550100") { sid status } }"""


async def create_concurrently(urls: list[str], flow_sid: str, count: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    urls[n % len(urls)],
                    json={"query": CREATE, "variables": {"f": flow_sid, "to": f"+1415666{n:04d}"}},
                )
                for n in range(count)
            )
        )
    assert {r.status_code for r in responses} == {200}
    return [r.json() for r in responses]


def test_sixty_creates_over_two_replicas_never_meet_twilios_limit(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    emulator.create_limit = 20  # Twilio's documented limit, enforced
    flow_sid = emulator.seeded_handles.survey_flow_sid
    with replicas(2, upstream, redis_server.url) as group:
        results = asyncio.run(create_concurrently([group.url(0), group.url(1)], flow_sid, 60))
    assert sum(emulator.throttled.values()) == 0, "Twilio answered 429 to a create"
    created = [r for r in results if r["data"]["createExecution"]]
    limited = [r for r in results if not r["data"]["createExecution"]]
    for result in created:
        assert result["data"]["createExecution"]["sid"].startswith("FN") and "errors" not in result
    for result in limited:
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED", error
        assert error["extensions"]["retryAfter"] > 0
    assert len(created) >= 20  # a burst, then Twilio's pace for the rest of the wait
    assert emulator.requests["POST /v2/Flows/{FlowSid}/Executions"] == len(created)
