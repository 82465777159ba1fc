"""The resilience parts as the served app wires them: request deadline, circuit in /readyz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.emulator import create_app as emulator_app
from gateway.observability import Metrics
from gateway.settings import Settings
from gateway.studio import Transport
from gateway.studio.wire import HttpxWire, WireConfig
from tests.support import asgi_client, ends_at, gateway_settings, until


@asynccontextmanager
async def served(emulator: Emulator, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    chosen: Settings = gateway_settings(**settings)
    upstream = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator_app(emulator)), base_url="http://emulator.test"
    )
    config = chosen.client_config()
    wire = HttpxWire(upstream, WireConfig.of(config))
    app = create_app(chosen, transport=Transport(config, wire=wire), metrics=Metrics())
    async with asgi_client(app) as http:
        yield http


async def test_the_request_deadline_answers_what_resolved_and_times_out_the_rest(
    emulator: Emulator,
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue(
        "hang", count=50, route="/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
    )
    async with served(emulator, request_deadline=0.6, call_deadline=30) as http:
        async with ends_at(0.6):  # the request's deadline: not the call's 30 s, nor the hang's hour
            body = (
                await http.post(
                    "/graphql",
                    json={
                        "query": """query($f: ID!) { flow(sid: $f) { friendlyName
                          executions(first: 2) { nodes { sid steps { nodes { sid } } } } } }""",
                        "variables": {"f": flow_sid},
                    },
                )
            ).json()
    assert body["data"]["flow"]["friendlyName"]
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"UPSTREAM_TIMEOUT"}


async def test_the_circuit_shows_in_readiness_and_metrics_and_fails_fast(
    emulator: Emulator,
) -> None:
    emulator.faults.enqueue("503", count=100, route="/v2/Flows/{Sid}")
    flow_sid = emulator.seeded_handles.survey_flow_sid
    query = {"query": "query($f: ID!) { flow(sid: $f) { sid } }", "variables": {"f": flow_sid}}
    async with served(emulator, circuit_min_calls=4, max_attempts=1) as http:
        for _ in range(4):
            await http.post("/graphql", json=query)
        emulator.reset_counters()
        refused = (await http.post("/graphql", json=query)).json()
        assert emulator.total_requests == 0
        assert refused["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert refused["errors"][0]["extensions"]["retryAfter"] > 0
        ready = await http.get("/readyz")
        assert ready.status_code == 200, "a Twilio outage must not empty the pool"
        assert ready.json()["upstream"]["circuit"]["state"] == "open"

        async def exported() -> str:
            return (await http.get("/metrics")).text

        async def sampled_open() -> bool:  # the gauges are sampled once a second
            return "studio_gateway_upstream_circuit_state 2.0" in await exported()

        await until(sampled_open)
        metrics = await exported()
    assert "studio_gateway_asyncio_tasks" in metrics
