"""Injected faults, latency, and the counters tests read."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, DroppedConnection, Emulator, create_app
from tests.support import AUTH, LiveServer, paused, until, until_blocking

from . import contract

FETCH_FLOW = "/v2/Flows/{Sid}"
CREATE_EXECUTION = "/v2/Flows/{FlowSid}/Executions"


def flow_url(emulator: Emulator) -> str:
    return f"/v2/Flows/{emulator.seeded_handles.survey_flow_sid}"


async def test_a_scripted_429_is_twilio_shaped_and_carries_retry_after(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("429", count=2, route=FETCH_FLOW, retry_after=1.5)

    limited = [await client.get(flow_url(emulator)) for _ in range(2)]
    other_route = await client.get("/v2/Flows")
    recovered = await client.get(flow_url(emulator))

    for response in limited:
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1.5"
        assert contract.check(response)["code"] == 20429
    assert other_route.status_code == 200 and recovered.status_code == 200
    assert emulator.requests[f"GET {FETCH_FLOW}"] == 3
    assert emulator.faults.pending == 0


@pytest.mark.parametrize(("kind", "code"), [("500", 20500), ("503", 20503), ("504", 20504)])
async def test_server_errors_are_twilio_shaped(
    client: httpx.AsyncClient, emulator: Emulator, kind: str, code: int
) -> None:
    emulator.faults.enqueue(kind)
    response = await client.get(flow_url(emulator))
    assert response.status_code == int(kind)
    assert contract.check(response)["code"] == code
    assert "retry-after" not in response.headers


async def test_a_502_comes_from_a_proxy_as_html(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("502")
    response = await client.get(flow_url(emulator))
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "Bad Gateway" in response.text


async def test_html_and_malformed_faults_answer_200_with_a_body_that_is_not_json(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("html")
    emulator.faults.enqueue("malformed")

    html = await client.get(flow_url(emulator))
    malformed = await client.get(flow_url(emulator))

    assert (html.status_code, malformed.status_code) == (200, 200)
    assert html.headers["content-type"].startswith("text/html")
    assert malformed.headers["content-type"] == "application/json"
    for response in (html, malformed):
        with pytest.raises(json.JSONDecodeError):
            response.json()


async def test_faults_match_method_and_route(client: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.enqueue("503", method="POST", route=CREATE_EXECUTION)
    executions = f"{flow_url(emulator)}/Executions"

    listed = await client.get(executions)
    created = await client.post(executions, data={"To": "+15550100", "From": "+15550101"})

    assert listed.status_code == 200 and created.status_code == 503


@pytest.mark.parametrize(("processed", "created"), [(True, 1), (False, 0)])
async def test_processed_faults_carry_out_the_request_first(
    client: httpx.AsyncClient, emulator: Emulator, processed: bool, created: int
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    executions = emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions
    before = len(executions)
    emulator.faults.enqueue("500", method="POST", route=CREATE_EXECUTION, processed=processed)

    response = await client.post(
        f"/v2/Flows/{flow_sid}/Executions", data={"To": "+15550100", "From": "+15550101"}
    )

    assert response.status_code == 500
    assert len(executions) == before + created


async def test_a_dropped_connection_breaks_a_real_socket(
    live_server: LiveServer, emulator: Emulator
) -> None:
    emulator.faults.enqueue("drop", route=FETCH_FLOW)
    async with httpx.AsyncClient(base_url=live_server.url, auth=AUTH) as http:
        with pytest.raises(httpx.TransportError):
            await http.get(flow_url(emulator))
        after = await http.get(flow_url(emulator))
    assert after.status_code == 200
    assert emulator.requests[f"GET {FETCH_FLOW}"] == 2


async def test_a_processed_drop_still_deletes(live_server: LiveServer, emulator: Emulator) -> None:
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    emulator.faults.enqueue("drop", method="DELETE", processed=True)
    async with httpx.AsyncClient(base_url=live_server.url, auth=AUTH) as http:
        with pytest.raises(httpx.TransportError):
            await http.delete(f"/v2/Flows/{flow_sid}/Executions/{execution_sid}")
    assert execution_sid not in emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions


async def test_a_drop_in_process_raises_in_the_app(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.rate_drop = 1.0
    with pytest.raises(DroppedConnection):
        await client.get("/v2/Flows")


async def test_a_hang_can_be_cancelled(client: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.enqueue("hang")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get(flow_url(emulator)), timeout=0.05)
    assert emulator.in_flight == 0
    assert (await client.get(flow_url(emulator))).status_code == 200


def test_a_hang_ends_when_the_client_gives_up(live_server: LiveServer, emulator: Emulator) -> None:
    emulator.faults.enqueue("hang", route=FETCH_FLOW)
    with httpx.Client(base_url=live_server.url, auth=AUTH, timeout=0.1) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get(flow_url(emulator))
    # The server notices the closed connection and stops waiting on its own.
    until_blocking(lambda: emulator.in_flight == 0)


async def test_a_short_hang_answers_afterwards(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.hang_seconds = 0.01
    emulator.faults.enqueue("hang")
    assert (await client.get(flow_url(emulator))).status_code == 200


async def test_random_rates_inject_faults_until_cleared(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.rate_429 = 1.0
    emulator.faults.retry_after = 2
    limited = await client.get("/v2/Flows")
    emulator.faults.clear()
    fine = await client.get("/v2/Flows")

    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert fine.status_code == 200
    assert emulator.faults.rate_429 == 0.0 and emulator.faults.retry_after is None


@pytest.mark.parametrize(
    ("attribute", "status"), [("rate_500", 500), ("rate_503", 503), ("rate_malformed", 200)]
)
async def test_each_random_rate_gives_its_fault(
    client: httpx.AsyncClient, emulator: Emulator, attribute: str, status: int
) -> None:
    setattr(emulator.faults, attribute, 1.0)
    response = await client.get("/v2/Flows")
    assert response.status_code == status
    if status == 200:
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_unknown_fault_kinds_are_refused(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emulator.faults.enqueue("418")
    with pytest.raises(ValueError, match="count"):
        emulator.faults.enqueue("500", count=0)


async def test_every_request_that_reaches_a_route_is_counted(emulator: Emulator) -> None:
    emulator.faults.enqueue("503", route="/v2/Flows/{Sid}/Revisions")
    flow = flow_url(emulator)
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as http:
        await http.get("/v2/Flows")  # no credentials
        await http.get(f"{flow}/Revisions", auth=AUTH)  # injected fault
        await http.get(f"{flow}/Revisions/LatestPublished", auth=AUTH)
        await http.get("/v2/Flows/FWnot-a-sid", auth=AUTH)  # malformed SID: 404, still counted
        await http.get("/v2/Unknown", auth=AUTH)  # no route: not counted

    assert emulator.requests == {
        "GET /v2/Flows": 1,
        "GET /v2/Flows/{Sid}/Revisions": 1,
        "GET /v2/Flows/{Sid}/Revisions/{Revision}": 1,
        "GET /v2/Flows/{Sid}": 1,
    }
    assert emulator.total_requests == 4
    emulator.reset_counters()
    assert emulator.total_requests == 0 and emulator.max_in_flight == 0


async def test_latency_counts_towards_requests_in_flight(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.latency = 0.05
    started = time.monotonic()
    responses = await asyncio.gather(*(client.get("/v2/Flows") for _ in range(8)))
    elapsed = time.monotonic() - started

    assert all(r.status_code == 200 for r in responses)
    assert emulator.max_in_flight == 8
    assert emulator.in_flight == 0
    assert elapsed >= 0.05
    assert responses[0].headers["twilio-concurrent-requests"].isdigit()


async def test_paused_requests_are_counted_and_wait_in_flight_until_it_is_lifted(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    with paused(emulator):
        calls = [asyncio.create_task(client.get("/v2/Flows")) for _ in range(3)]
        await until(lambda: emulator.in_flight == 3)
        assert emulator.requests["GET /v2/Flows"] == 3
        assert not any(call.done() for call in calls)

    responses = await asyncio.gather(*calls)

    assert [r.status_code for r in responses] == [200] * 3
    assert emulator.in_flight == 0


def test_a_pause_holds_requests_on_a_served_emulator_too(
    live_server: LiveServer, emulator: Emulator
) -> None:
    with ThreadPoolExecutor(1) as pool:
        with paused(emulator):
            answer = pool.submit(httpx.get, f"{live_server.url}/v2/Flows", auth=AUTH, timeout=30)
            until_blocking(lambda: emulator.in_flight == 1)
            assert not answer.done()
        assert answer.result().status_code == 200


async def test_jitter_adds_at_most_its_bound(emulator: Emulator) -> None:
    emulator.latency = 0.01
    emulator.jitter = 0.02
    delays = [emulator.request_delay() for _ in range(200)]
    assert all(0.01 <= d <= 0.03 for d in delays)
    assert len(set(delays)) > 100


async def test_a_scripted_429_without_its_own_retry_after_uses_the_knob(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.retry_after = 30.0
    emulator.faults.enqueue("429")
    emulator.faults.enqueue("429", retry_after=0.25)

    first = await client.get("/v2/Flows")
    second = await client.get("/v2/Flows")

    assert first.headers["retry-after"] == "30"
    assert second.headers["retry-after"] == "0.25"
