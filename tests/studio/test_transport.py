"""Retries, deadlines, the in-flight bound and malformed answers, against the emulator's faults."""

from __future__ import annotations

import asyncio

import pytest

from gateway.emulator import Emulator
from gateway.studio import (
    Attempt,
    ClientConfig,
    Credentials,
    Reason,
    RetryPolicy,
    StudioClient,
    StudioError,
    Timeouts,
    Transport,
)
from tests.support import FAST_RETRY, asgi_transport, ends_at, free_port, paused, until

FETCH_FLOW = "GET /v2/Flows/{Sid}"
CREATE_EXECUTION = "POST /v2/Flows/{FlowSid}/Executions"
DELETE_EXECUTION = "DELETE /v2/Flows/{FlowSid}/Executions/{Sid}"


def client_for(emulator: Emulator, credentials: Credentials, **config: object) -> StudioClient:
    settings = {"base_url": "http://emulator.test", "retry": FAST_RETRY, **config}
    return StudioClient(asgi_transport(emulator, ClientConfig(**settings)), credentials)  # type: ignore[arg-type]


async def a_flow(emulator: Emulator, studio: StudioClient) -> str:
    sid = (await studio.list_flows()).items[0].sid
    emulator.reset_counters()
    return sid


def executions_of(emulator: Emulator, studio: StudioClient, flow_sid: str) -> int:
    return len(emulator.account(studio.account_sid).flows[flow_sid].executions)


async def test_get_retries_429_and_waits_as_retry_after_says(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue("429", count=2, route="/v2/Flows/{Sid}", retry_after=0.2)

    async with ends_at(0.4):
        flow = await studio.fetch_flow(flow_sid)

    assert flow.sid == flow_sid
    assert emulator.requests[FETCH_FLOW] == 3


async def test_a_retry_after_longer_than_the_deadline_fails_fast_with_the_wait(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = client_for(emulator, credentials, timeouts=Timeouts(deadline=20.0))
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue("429", count=5, route="/v2/Flows/{Sid}", retry_after=30)

    async with ends_at(0):  # neither the 30 s asked for nor the 20 s deadline
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(flow_sid)

    assert caught.value.status == 429 and caught.value.code == 20429
    assert caught.value.retry_after == 30
    assert emulator.requests[FETCH_FLOW] == 1
    await studio.aclose()


async def test_get_retries_502_503_504_but_not_500(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue("503", route="/v2/Flows/{Sid}")
    emulator.faults.enqueue("502", route="/v2/Flows/{Sid}")
    assert (await studio.fetch_flow(flow_sid)).sid == flow_sid
    assert emulator.requests[FETCH_FLOW] == 3

    emulator.reset_counters()
    emulator.faults.enqueue("500", route="/v2/Flows/{Sid}")
    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)
    assert caught.value.status == 500
    assert emulator.requests[FETCH_FLOW] == 1


async def test_attempts_stop_at_the_configured_maximum(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue("504", count=10, route="/v2/Flows/{Sid}")
    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)
    assert caught.value.status == 504
    assert emulator.requests[FETCH_FLOW] == FAST_RETRY.max_attempts


async def test_a_post_is_retried_on_429_because_twilio_processed_nothing(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio)
    before = executions_of(emulator, studio, flow_sid)
    emulator.faults.enqueue("429", route="/v2/Flows/{FlowSid}/Executions", method="POST")

    execution = await studio.create_execution(flow_sid, "+15005550123", "+15005550001")

    assert emulator.requests[CREATE_EXECUTION] == 2
    assert executions_of(emulator, studio, flow_sid) == before + 1
    assert execution.sid in emulator.account(studio.account_sid).flows[flow_sid].executions


@pytest.mark.parametrize("fault", ["500", "502", "503", "504"])
async def test_a_post_that_may_have_been_processed_is_never_sent_twice(
    studio: StudioClient, emulator: Emulator, fault: str
) -> None:
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue(fault, route="/v2/Flows/{Sid}", method="POST", processed=True)

    with pytest.raises(StudioError) as caught:
        await studio.update_flow(flow_sid, "published", commit_message="once")

    assert caught.value.status == int(fault)
    assert caught.value.outcome_unknown
    assert emulator.requests["POST /v2/Flows/{Sid}"] == 1


@pytest.mark.parametrize("fault", ["500", "502", "503", "504"])
async def test_a_create_that_may_have_been_processed_is_sent_once_and_found(
    studio: StudioClient, emulator: Emulator, fault: str
) -> None:
    flow_sid = await a_flow(emulator, studio)
    before = executions_of(emulator, studio, flow_sid)
    emulator.faults.enqueue(
        fault, route="/v2/Flows/{FlowSid}/Executions", method="POST", processed=True
    )

    execution = await studio.create_execution(flow_sid, "+15005550124", "+15005550001")

    assert emulator.requests[CREATE_EXECUTION] == 1
    assert executions_of(emulator, studio, flow_sid) == before + 1
    assert execution.sid in emulator.account(studio.account_sid).flows[flow_sid].executions


async def test_a_post_whose_connection_broke_is_not_retried(
    studio_socket: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio_socket)
    emulator.faults.enqueue("drop", route="/v2/Flows/{Sid}", method="POST", processed=True)

    with pytest.raises(StudioError) as caught:
        await studio_socket.update_flow(flow_sid, "published", commit_message="once")

    assert caught.value.reason is Reason.NETWORK and caught.value.outcome_unknown
    assert emulator.requests["POST /v2/Flows/{Sid}"] == 1


async def test_a_get_whose_connection_broke_is_retried(
    studio_socket: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio_socket)
    emulator.faults.enqueue("drop", route="/v2/Flows/{Sid}")
    assert (await studio_socket.fetch_flow(flow_sid)).sid == flow_sid
    assert emulator.requests[FETCH_FLOW] == 2


async def test_a_delete_retried_after_a_lost_answer_counts_as_done(
    studio_socket: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio_socket)
    execution_sid = next(
        iter(emulator.account(studio_socket.account_sid).flows[flow_sid].executions)
    )
    emulator.faults.enqueue("drop", route="/v2/Flows/{FlowSid}/Executions/{Sid}", processed=True)

    await studio_socket.delete_execution(flow_sid, execution_sid)

    assert emulator.requests[DELETE_EXECUTION] == 2
    assert (
        execution_sid not in emulator.account(studio_socket.account_sid).flows[flow_sid].executions
    )


async def test_a_refused_connection_is_retried_for_any_method_then_reported(
    credentials: Credentials,
) -> None:
    attempts: list[Attempt] = []
    transport = Transport(
        ClientConfig(base_url=f"http://127.0.0.1:{free_port()}", retry=FAST_RETRY),
        observers=[attempts.append],
    )
    studio = StudioClient(transport, credentials)
    with pytest.raises(StudioError) as caught:
        await studio.create_execution("FW" + "0" * 32, "+15005550126", "+15005550001")
    await studio.aclose()

    assert caught.value.reason is Reason.NETWORK
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert [a.will_retry for a in attempts] == [True, True, False]
    assert all(a.operation == CREATE_EXECUTION for a in attempts)


async def test_in_flight_calls_never_exceed_the_bound(
    emulator: Emulator, credentials: Credentials
) -> None:
    # Identical reads would share one call (single flight): send 20 real ones.
    studio = client_for(emulator, credentials, max_in_flight=4, single_flight=False)
    flow_sid = await a_flow(emulator, studio)
    budget = studio.transport.retry_budget
    calls_before = budget.stats.calls

    with paused(emulator):
        calls = asyncio.gather(*(studio.fetch_flow(flow_sid) for _ in range(20)))
        # All twenty have started (each counts towards the retry budget first); four
        # are with Twilio, the rest queue for a slot.
        await until(lambda: budget.stats.calls - calls_before == 20 and emulator.in_flight == 4)
    await calls

    assert emulator.requests[FETCH_FLOW] == 20
    assert emulator.max_in_flight == 4
    await studio.aclose()


@pytest.mark.parametrize("fault", ["malformed", "html"])
async def test_a_body_that_is_not_json_is_a_clean_malformed_error(
    studio: StudioClient, emulator: Emulator, fault: str
) -> None:
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue(fault, route="/v2/Flows/{Sid}")
    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)
    assert caught.value.reason is Reason.MALFORMED
    assert caught.value.operation == FETCH_FLOW
    assert "Traceback" not in str(caught.value)


async def test_an_html_502_from_a_proxy_is_a_clean_error_of_the_same_type(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue("502", count=5, route="/v2/Flows/{Sid}")
    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)
    assert caught.value.status == 502
    assert "<" not in caught.value.message


async def test_a_body_over_the_size_cap_is_refused(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = client_for(emulator, credentials, max_response_bytes=2_000)
    flow_sid = emulator.seeded_handles.survey_flow_sid
    with pytest.raises(StudioError) as caught:
        await studio.list_executions(flow_sid, page_size=1000)
    assert caught.value.reason is Reason.MALFORMED
    await studio.aclose()


async def test_a_hung_upstream_ends_at_the_deadline(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = client_for(
        emulator,
        credentials,
        timeouts=Timeouts(connect=1, read=0.2, deadline=0.5),
        retry=RetryPolicy(max_attempts=5, backoff=0.01),
    )
    flow_sid = await a_flow(emulator, studio)
    emulator.faults.enqueue("hang", count=10, route="/v2/Flows/{Sid}")
    async with ends_at(0.5):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(flow_sid)
    assert caught.value.reason is Reason.TIMEOUT
    await studio.aclose()
