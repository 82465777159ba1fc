"""Single flight: identical concurrent reads share one upstream call, never across accounts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from gateway.studio import (
    ClientConfig,
    Credentials,
    Flow,
    Page,
    Reason,
    StudioClient,
    StudioError,
    Transport,
    call_scope,
)
from tests.support import FAST_RETRY, asgi_transport, basic, codes, paused, secured, until

FETCH_FLOW = "GET /v2/Flows/{Sid}"
LIST_FLOWS = "GET /v2/Flows"
LIST_EXECUTIONS = "GET /v2/Flows/{FlowSid}/Executions"
CREATE_EXECUTION = "POST /v2/Flows/{FlowSid}/Executions"
OTHER_ACCOUNT = "AC" + "b" * 32
OTHER_TOKEN = "other-token"
API_KEY, API_SECRET = "SK" + "c" * 32, "key-secret"
T = TypeVar("T")


async def at_once(
    emulator: Emulator, transport: Transport, *reads: Awaitable[T]
) -> list[T | BaseException]:
    """Run `reads` while the emulator holds every request, so they are all waiting at
    the same moment: any two that could share one upstream call do."""
    with paused(emulator):
        tasks = [asyncio.ensure_future(read) for read in reads]
        await until(lambda: transport.single_flight.stats.waiting == len(tasks))
    return await asyncio.gather(*tasks, return_exceptions=True)


def flow_sids(page: object) -> set[str]:
    assert isinstance(page, Page), page
    return {flow.sid for flow in page.items}


async def test_a_hundred_identical_reads_make_one_upstream_call_decoded_once(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid

    flows = await at_once(
        emulator, studio.transport, *(studio.fetch_flow(flow_sid) for _ in range(100))
    )

    assert emulator.requests[FETCH_FLOW] == 1
    # One record for all hundred readers: the answer is decoded once, not per reader.
    assert isinstance(flows[0], Flow)
    assert all(f is flows[0] for f in flows)
    stats = studio.transport.single_flight.stats
    assert (stats.started, stats.joined, stats.in_flight) == (1, 99, 0)


async def test_the_same_path_for_two_accounts_is_two_calls_and_nothing_crosses(
    emulator: Emulator, credentials: Credentials
) -> None:
    emulator.add_account(OTHER_ACCOUNT, OTHER_TOKEN, flows=3)
    transport = asgi_transport(emulator)
    ours = StudioClient(transport, credentials)
    theirs = ours.with_credentials(Credentials.auth_token(OTHER_ACCOUNT, OTHER_TOKEN))
    flow_sid = emulator.seeded_handles.survey_flow_sid  # ours: the other account has no such flow

    results = await at_once(
        emulator,
        transport,
        *(ours.fetch_flow(flow_sid) for _ in range(5)),
        *(theirs.fetch_flow(flow_sid) for _ in range(5)),
        *(ours.list_flows() for _ in range(5)),
        *(theirs.list_flows() for _ in range(5)),
    )

    assert emulator.requests[FETCH_FLOW] == 2 and emulator.requests[LIST_FLOWS] == 2
    assert all(isinstance(r, Flow) and r.sid == flow_sid for r in results[:5])
    assert all(isinstance(r, StudioError) and r.status == 404 for r in results[5:10])
    assert all(
        flow_sids(r) == set(emulator.account(ours.account_sid).flows) for r in results[10:15]
    )
    assert all(flow_sids(r) == set(emulator.account(OTHER_ACCOUNT).flows) for r in results[15:])
    await transport.aclose()


@pytest.mark.parametrize("other", ["a wrong token", "an API key of the same account"])
async def test_other_credentials_for_the_same_account_never_share_a_call(
    emulator: Emulator, credentials: Credentials, other: str
) -> None:
    account = credentials.account_sid
    if other == "a wrong token":
        second = Credentials.auth_token(account, "wrong")
    else:
        emulator.add_api_key(API_KEY, API_SECRET, account)
        second = Credentials.api_key(account, API_KEY, API_SECRET)
    transport = asgi_transport(emulator)
    first = StudioClient(transport, credentials)
    flow_sid = emulator.seeded_handles.survey_flow_sid

    right, theirs = await at_once(
        emulator,
        transport,
        first.fetch_flow(flow_sid),
        first.with_credentials(second).fetch_flow(flow_sid),
    )

    assert isinstance(right, Flow) and right.sid == flow_sid
    if other == "a wrong token":
        assert isinstance(theirs, StudioError) and theirs.status == 401
    else:
        assert theirs == right
    assert emulator.requests[FETCH_FLOW] == 2
    assert transport.single_flight.stats.joined == 0
    await transport.aclose()


async def test_pass_through_callers_with_other_credentials_never_share_an_answer(
    emulator: Emulator,
) -> None:
    # Through the whole gateway: one transport (and one table of shared reads) serves
    # every pass-through caller, and the three ask for the same URL at the same time.
    emulator.add_account(OTHER_ACCOUNT, OTHER_TOKEN, flows=3)
    transport = asgi_transport(emulator)
    query = {"query": "{ flows(first: 50) { nodes { sid } } }"}
    callers = [
        basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN),
        basic(OTHER_ACCOUNT, OTHER_TOKEN),
        basic(DEMO_ACCOUNT_SID, "a-guessed-token"),
    ]
    async with secured(emulator, upstream_credentials="passthrough", transport=transport) as http:
        with paused(emulator):
            posts = [
                asyncio.ensure_future(http.post("/graphql", json=query, headers=caller))
                for caller in callers
            ]
            await until(lambda: transport.single_flight.stats.waiting == len(callers))
            assert transport.single_flight.stats.in_flight == 3, "one call per caller"
        ours, theirs, guess = [(await post).json() for post in posts]

    def listed(body: dict[str, Any]) -> set[str]:
        return {flow["sid"] for flow in body["data"]["flows"]["nodes"]}

    assert listed(ours) == set(emulator.account(DEMO_ACCOUNT_SID).flows)
    assert listed(theirs) == set(emulator.account(OTHER_ACCOUNT).flows)
    assert not (guess["data"] or {}).get("flows") and codes(guess) == ["UNAUTHENTICATED"]
    assert emulator.requests[LIST_FLOWS] == 3


async def test_every_waiter_gets_the_shared_error(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = StudioClient(asgi_transport(emulator), credentials)
    emulator.faults.enqueue("500", route="/v2/Flows/{Sid}")
    flow_sid = emulator.seeded_handles.survey_flow_sid

    results = await at_once(
        emulator, studio.transport, *(studio.fetch_flow(flow_sid) for _ in range(20))
    )

    assert all(isinstance(r, StudioError) and r.status == 500 for r in results)
    assert emulator.requests[FETCH_FLOW] == 1
    await studio.aclose()


async def test_different_queries_are_different_reads(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid

    await at_once(
        emulator,
        studio.transport,
        studio.list_executions(flow_sid, page_size=2),
        studio.list_executions(flow_sid, page_size=3),
        studio.list_executions(flow_sid, page_size=3),
    )

    assert emulator.requests[LIST_EXECUTIONS] == 2


async def test_writes_are_never_shared(studio: StudioClient, emulator: Emulator) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid

    with paused(emulator):
        creates = asyncio.gather(
            *(
                studio.create_execution(flow_sid, f"+1500555{n:04d}", "+15005550001")
                for n in range(5)
            )
        )
        await until(lambda: emulator.in_flight == 5)
    executions = await creates

    assert emulator.requests[CREATE_EXECUTION] == 5
    assert len({e.sid for e in executions}) == 5


async def test_a_cancelled_waiter_does_not_cancel_the_call_for_the_others(
    emulator_url: str, emulator: Emulator, credentials: Credentials
) -> None:
    studio = StudioClient(
        Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY)), credentials
    )
    flow_sid = emulator.seeded_handles.survey_flow_sid

    with paused(emulator):
        first = asyncio.create_task(studio.fetch_flow(flow_sid))
        await until(lambda: emulator.in_flight == 1)
        others = [asyncio.create_task(studio.fetch_flow(flow_sid)) for _ in range(9)]
        await until(lambda: studio.transport.single_flight.stats.waiting == 10)
        first.cancel()
        await asyncio.wait([first])
        assert emulator.in_flight == 1, "the shared call goes on"

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
    await until(lambda: emulator.in_flight == 1)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)

    await until(lambda: transport.in_flight == 0 and emulator.in_flight == 0)
    assert transport.single_flight.stats.in_flight == 0
    assert emulator.requests[FETCH_FLOW] == 1
    await studio.aclose()


async def test_single_flight_can_be_turned_off(
    emulator: Emulator, credentials: Credentials
) -> None:
    config = ClientConfig(base_url="http://emulator.test", retry=FAST_RETRY, single_flight=False)
    studio = StudioClient(asgi_transport(emulator, config), credentials)

    with paused(emulator):
        reads = asyncio.gather(
            *(studio.fetch_flow(emulator.seeded_handles.survey_flow_sid) for _ in range(5))
        )
        await until(lambda: emulator.in_flight == 5)
    await reads

    assert emulator.requests[FETCH_FLOW] == 5
    await studio.aclose()


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
