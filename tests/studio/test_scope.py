"""Call scopes: a request's deadline and cancellation reach every upstream call it makes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.emulator import Emulator
from gateway.studio import (
    Attempt,
    ClientConfig,
    Credentials,
    Reason,
    StudioClient,
    StudioError,
    Timeouts,
    Transport,
    call_scope,
    current_scope,
)
from tests.support import FAST_RETRY, ends_at, paused, until

FETCH_FLOW = "GET /v2/Flows/{Sid}"
LIST_FLOWS = "GET /v2/Flows"


@pytest.fixture
async def studio(emulator_url: str, credentials: Credentials) -> AsyncIterator[StudioClient]:
    """Over a real socket, so a hung upstream really hangs; a long call deadline of its
    own, and as long for a create to wait out Twilio's 429s."""
    config = ClientConfig(
        base_url=emulator_url,
        retry=FAST_RETRY,
        timeouts=Timeouts(read=30, deadline=30),
        create_wait=30,
    )
    client = StudioClient(Transport(config), credentials)
    yield client
    await client.aclose()


def observe_attempts(studio: StudioClient) -> list[Attempt]:
    """Every attempt the client's transport finishes, as it reports them."""
    attempts: list[Attempt] = []
    studio.transport.observers.append(attempts.append)
    return attempts


async def test_a_call_ends_at_its_scopes_deadline_not_its_own(
    studio: StudioClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("hang", route="/v2/Flows/{Sid}")
    async with ends_at(0.3):
        with call_scope(0.3), pytest.raises(StudioError) as caught:
            await studio.fetch_flow(emulator.seeded_handles.survey_flow_sid)

    assert caught.value.reason is Reason.TIMEOUT
    await until(lambda: emulator.in_flight == 0)
    assert studio.transport.circuit.stats.calls == 0, "the request's deadline blames no one"


async def test_cancelling_a_scope_ends_its_calls_now_and_refuses_new_ones(
    studio: StudioClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("hang", count=3, route="/v2/Flows")
    with call_scope() as scope:
        calls = [asyncio.create_task(studio.list_flows(page_size=size)) for size in (1, 2, 3)]
        await until(lambda: emulator.in_flight == 3)
        scope.cancel()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, StudioError) and r.reason is Reason.TIMEOUT for r in results)

        emulator.reset_counters()
        with pytest.raises(StudioError):
            await studio.list_flows()
        assert emulator.total_requests == 0

    await until(lambda: emulator.in_flight == 0)
    assert studio.transport.in_flight == 0


async def test_cancelling_a_parent_scope_ends_the_calls_of_its_children(
    studio: StudioClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("hang", route="/v2/Flows")
    with call_scope() as parent:
        with call_scope(60) as child:
            assert current_scope() is child and child.parent is parent
            call = asyncio.create_task(studio.list_flows())
            await until(lambda: emulator.in_flight == 1)
            parent.cancel()
            with pytest.raises(StudioError) as caught:
                await call
        assert current_scope() is parent
    assert current_scope() is None
    assert caught.value.reason is Reason.TIMEOUT


async def test_a_retry_after_beyond_the_scopes_deadline_fails_fast_with_the_wait(
    studio: StudioClient, emulator: Emulator
) -> None:
    # Waiting out 25 s would fit the call's own 30 s deadline, not the scope's 20 s.
    emulator.faults.enqueue("429", count=3, route="/v2/Flows", retry_after=25)
    async with ends_at(0):
        with call_scope(20.0), pytest.raises(StudioError) as caught:
            await studio.list_flows()

    assert caught.value.status == 429 and caught.value.retry_after == 25
    assert emulator.requests[LIST_FLOWS] == 1


async def test_a_shared_read_ends_for_each_waiter_at_its_own_deadline(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    with paused(emulator):
        patient = asyncio.create_task(studio.fetch_flow(flow_sid))
        await until(lambda: emulator.in_flight == 1)
        async with ends_at(0.1):
            with call_scope(0.1), pytest.raises(StudioError) as caught:
                await studio.fetch_flow(flow_sid)
        assert studio.transport.single_flight.stats.joined == 1, "it waited on the shared call"
        assert not patient.done()

    assert caught.value.reason is Reason.TIMEOUT
    assert (await patient).sid == flow_sid
    assert emulator.requests[FETCH_FLOW] == 1


async def test_cancelling_a_scope_also_ends_the_wait_before_a_retry(
    studio: StudioClient, emulator: Emulator
) -> None:
    route = "/v2/Flows/{FlowSid}/Executions"
    emulator.faults.enqueue("429", count=3, method="POST", route=route, retry_after=20)
    flow_sid = emulator.seeded_handles.survey_flow_sid
    attempts = observe_attempts(studio)
    with call_scope() as scope:
        call = asyncio.create_task(
            studio.create_execution(flow_sid, "+15005550777", "+15005550001")
        )
        await until(lambda: [a.will_retry for a in attempts] == [True])  # waiting out 20 s
        async with ends_at(0):
            scope.cancel()
            with pytest.raises(StudioError) as caught:
                await call

    assert caught.value.status == 429, "the call fails with the error it was waiting out"
    assert emulator.requests[f"POST {route}"] == 1


async def test_a_shared_read_whose_waiters_all_left_stops_retrying(
    studio: StudioClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("429", count=3, route="/v2/Flows", retry_after=20)
    attempts = observe_attempts(studio)
    with call_scope() as scope:
        call = asyncio.create_task(studio.list_flows())
        await until(lambda: [a.will_retry for a in attempts] == [True])  # waiting out 20 s
        scope.cancel()
        with pytest.raises(StudioError) as caught:
            await call

    assert caught.value.reason is Reason.TIMEOUT
    # The shared call's own task ends as well: none is left waiting to retry.
    await until(lambda: asyncio.all_tasks() == {asyncio.current_task()})
    assert studio.transport.single_flight.stats.in_flight == 0
    assert emulator.requests[LIST_FLOWS] == 1
