"""Single flight: identical concurrent reads share one upstream call, never across accounts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.emulator import Emulator
from gateway.studio import (
    ClientConfig,
    Credentials,
    Flow,
    Reason,
    StudioClient,
    StudioError,
    Transport,
    call_scope,
)
from tests.conftest import FAST_RETRY, asgi_transport

FETCH_FLOW = "GET /v2/Flows/{Sid}"
LIST_EXECUTIONS = "GET /v2/Flows/{FlowSid}/Executions"
CREATE_EXECUTION = "POST /v2/Flows/{FlowSid}/Executions"
OTHER_ACCOUNT = "AC" + "b" * 32
OTHER_TOKEN = "other-token"


async def test_a_hundred_identical_reads_make_one_upstream_call(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.latency = 0.05

    flows = await asyncio.gather(*(studio.fetch_flow(flow_sid) for _ in range(100)))

    assert emulator.requests[FETCH_FLOW] == 1
    assert all(isinstance(f, Flow) and f == flows[0] for f in flows)
    stats = studio.transport.single_flight.stats
    assert (stats.started, stats.joined, stats.in_flight) == (1, 99, 0)


async def test_the_same_path_for_two_accounts_is_two_calls_and_nothing_crosses(
    emulator: Emulator, credentials: Credentials
) -> None:
    emulator.add_account(OTHER_ACCOUNT, OTHER_TOKEN, flows=0)
    emulator.latency = 0.05
    transport = asgi_transport(emulator)
    ours = StudioClient(transport, credentials)
    theirs = ours.with_credentials(Credentials.auth_token(OTHER_ACCOUNT, OTHER_TOKEN))
    flow_sid = emulator.seeded_handles.survey_flow_sid

    results = await asyncio.gather(
        *(ours.fetch_flow(flow_sid) for _ in range(50)),
        *(theirs.fetch_flow(flow_sid) for _ in range(50)),
        return_exceptions=True,
    )

    assert emulator.requests[FETCH_FLOW] == 2
    assert all(isinstance(r, Flow) for r in results[:50])
    assert all(isinstance(r, StudioError) and r.status == 404 for r in results[50:])
    await transport.aclose()


async def test_a_wrong_token_never_shares_the_answer_a_right_one_got(
    studio: StudioClient, emulator: Emulator, credentials: Credentials
) -> None:
    emulator.latency = 0.05
    wrong = studio.with_credentials(Credentials.auth_token(credentials.account_sid, "wrong"))
    flow_sid = emulator.seeded_handles.survey_flow_sid

    right, refused = await asyncio.gather(
        studio.fetch_flow(flow_sid), wrong.fetch_flow(flow_sid), return_exceptions=True
    )

    assert isinstance(right, Flow)
    assert isinstance(refused, StudioError) and refused.status == 401
    assert emulator.requests[FETCH_FLOW] == 2


async def test_every_waiter_gets_the_shared_error(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = StudioClient(asgi_transport(emulator), credentials)
    emulator.latency = 0.05
    emulator.faults.enqueue("500", route="/v2/Flows/{Sid}")
    flow_sid = emulator.seeded_handles.survey_flow_sid

    results = await asyncio.gather(
        *(studio.fetch_flow(flow_sid) for _ in range(20)), return_exceptions=True
    )

    assert all(isinstance(r, StudioError) and r.status == 500 for r in results)
    assert emulator.requests[FETCH_FLOW] == 1
    await studio.aclose()


async def test_different_queries_are_different_reads(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.latency = 0.05

    await asyncio.gather(
        studio.list_executions(flow_sid, page_size=2),
        studio.list_executions(flow_sid, page_size=3),
        studio.list_executions(flow_sid, page_size=3),
    )

    assert emulator.requests[LIST_EXECUTIONS] == 2


async def test_writes_are_never_shared(studio: StudioClient, emulator: Emulator) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.latency = 0.05

    executions = await asyncio.gather(
        *(studio.create_execution(flow_sid, f"+1500555{n:04d}", "+15005550001") for n in range(5))
    )

    assert emulator.requests[CREATE_EXECUTION] == 5
    assert len({e.sid for e in executions}) == 5


async def test_a_cancelled_waiter_does_not_cancel_the_call_for_the_others(
    emulator_url: str, emulator: Emulator, credentials: Credentials
) -> None:
    studio = StudioClient(
        Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY)), credentials
    )
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.latency = 0.2

    first = asyncio.create_task(studio.fetch_flow(flow_sid))
    await asyncio.sleep(0.02)
    others = [asyncio.create_task(studio.fetch_flow(flow_sid)) for _ in range(9)]
    await asyncio.sleep(0.02)
    first.cancel()

    flows = await asyncio.gather(*others)

    assert first.cancelled()
    assert all(f.sid == flow_sid for f in flows)
    assert emulator.requests[FETCH_FLOW] == 1
    await studio.aclose()


async def test_when_every_waiter_leaves_the_shared_call_is_cancelled(
    emulator_url: str, emulator: Emulator, credentials: Credentials
) -> None:
    transport = Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY))
    studio = StudioClient(transport, credentials)
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("hang", route="/v2/Flows/{Sid}")

    waiters = [asyncio.create_task(studio.fetch_flow(flow_sid)) for _ in range(5)]
    await _until(lambda: emulator.in_flight == 1)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)

    await _until(lambda: transport.in_flight == 0 and emulator.in_flight == 0)
    assert transport.single_flight.stats.in_flight == 0
    assert emulator.requests[FETCH_FLOW] == 1
    await studio.aclose()


async def test_single_flight_can_be_turned_off(
    emulator: Emulator, credentials: Credentials
) -> None:
    config = ClientConfig(base_url="http://emulator.test", retry=FAST_RETRY, single_flight=False)
    studio = StudioClient(asgi_transport(emulator, config), credentials)
    emulator.latency = 0.02

    await asyncio.gather(
        *(studio.fetch_flow(emulator.seeded_handles.survey_flow_sid) for _ in range(5))
    )

    assert emulator.requests[FETCH_FLOW] == 5
    await studio.aclose()


async def _until(condition: Callable[[], bool]) -> None:
    """Poll for up to 3 s: the counters live on the server's thread."""
    for _ in range(300):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true within 3 s")


@pytest.fixture(autouse=True)
def _quiet_counters(emulator: Emulator) -> None:
    emulator.reset_counters()


async def test_a_caller_whose_request_is_gone_never_poisons_a_shared_read(
    studio: StudioClient, emulator: Emulator
) -> None:
    # Seen in the soak: a client that had hung up started a shared read with its
    # (already past) deadline, and a request joining it in that instant timed out.
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.latency = 0.05

    async def gone() -> object:
        with call_scope() as scope:
            scope.cancel()
            return await studio.fetch_flow(flow_sid)

    async def present() -> object:
        return await studio.fetch_flow(flow_sid)

    left, stayed = await asyncio.gather(gone(), present(), return_exceptions=True)
    assert isinstance(left, StudioError) and left.reason is Reason.TIMEOUT
    assert not isinstance(stayed, BaseException) and stayed.sid == flow_sid
