"""Twilio's create limit holds for the account across replicas, however Twilio counts it:
one sliding window in Redis, and Twilio's 429s waited out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from gateway.emulator import CREATE_LIMITERS, Emulator
from tests.support import RedisServer, replicas

CREATE = """mutation($f: ID!, $to: String!) {
  createExecution(flowSid: $f, to: $to, from: "+14155550100") { sid status } }"""
CREATE_ROUTE = "POST /v2/Flows/{FlowSid}/Executions"


async def create_concurrently(
    urls: list[str], flow_sid: str, count: int, first: int = 0
) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    urls[n % len(urls)],
                    json={"query": CREATE, "variables": {"f": flow_sid, "to": f"+1415666{n:04d}"}},
                )
                for n in range(first, first + count)
            )
        )
    assert {r.status_code for r in responses} == {200}
    return [r.json() for r in responses]


def test_sixty_creates_over_two_replicas_never_meet_twilios_limit_however_it_counts(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.create_limit = 20  # Twilio's documented limit, enforced
    # 60 at once are three seconds' worth: the wait lets every one take its turn.
    with replicas(2, upstream, redis_server.url, STUDIO_GATEWAY_CREATE_WAIT="9") as group:
        for batch, limiter in enumerate(CREATE_LIMITERS):
            emulator.create_limiter = limiter  # counting anew, Twilio's way
            emulator.reset_counters()
            urls = [group.url(0), group.url(1)]
            results = asyncio.run(create_concurrently(urls, flow_sid, 60, first=batch * 60))
            assert sum(emulator.throttled.values()) == 0, f"{limiter}: Twilio answered 429"
            errors = [r["errors"] for r in results if "errors" in r]
            assert errors == [], f"{limiter}: {errors}"  # no RATE_LIMITED, nor anything else
            sids = {r["data"]["createExecution"]["sid"] for r in results}
            assert len(sids) == 60 and all(sid.startswith("FN") for sid in sids)
            assert emulator.requests[CREATE_ROUTE] == 60
