"""The account's create limit in one process: a sliding window the transport asks before
each create, and the waiting out of Twilio's 429s."""

from __future__ import annotations

import asyncio

import pytest

from gateway.emulator import CREATE_LIMITERS, CreateLimiter, Emulator
from gateway.studio import ClientConfig, Credentials, Reason, StudioClient, StudioError
from gateway.studio.limits import LocalSemaphore, SlidingWindow, Window
from tests.support import FAST_RETRY, asgi_transport

CREATE_ROUTE = "/v2/Flows/{FlowSid}/Executions"
CREATE = f"POST {CREATE_ROUTE}"


def test_a_window_grants_its_places_then_says_when_one_frees() -> None:
    now = [0.0]
    window = SlidingWindow(Window(2, 1.0), lease=10.0, clock=lambda: now[0])
    first, _ = window.take("AC1")
    second, _ = window.take("AC1")
    assert first and second
    # Both calls are still out: a place frees a second after an answer, at the soonest.
    assert window.take("AC1") == (None, 1.0)
    now[0] = 0.25
    window.give_back("AC1", first)  # answered at 0.25: counts until 1.25
    now[0] = 1.0
    assert window.take("AC1") == (None, 0.25)
    now[0] = 1.25
    third, _ = window.take("AC1")
    assert third
    assert window.take("AC2")[0]  # another account has its own window


def test_a_place_never_given_back_frees_when_its_lease_runs_out() -> None:
    now = [0.0]
    window = SlidingWindow(Window(1, 1.0), lease=5.0, clock=lambda: now[0])
    assert window.take("AC1")[0]  # sent, never answered: Twilio may still count it
    now[0] = 4.9
    assert window.take("AC1")[0] is None
    now[0] = 5.0
    assert window.take("AC1")[0]


def test_no_second_holds_more_than_the_rate() -> None:
    assert Window.per_second(20) == Window(20, 1.0)
    assert Window.per_second(20.7) == Window(20, 1.0)
    assert Window.per_second(0.5) == Window(1, 2.0)
    with pytest.raises(ValueError, match="positive rate"):
        Window.per_second(0)


async def test_waiters_of_one_process_are_served_in_the_order_they_came() -> None:
    window = SlidingWindow(Window(1, 0.01), lease=10.0)
    served: list[int] = []

    async def create(n: int) -> None:
        admission = await window.acquire("AC1", 30)
        assert admission.granted
        served.append(n)
        await window.release("AC1", admission.ticket)

    await asyncio.gather(*(create(n) for n in range(8)))
    assert served == list(range(8))


async def test_a_wait_longer_than_allowed_is_refused_with_when_to_try_again() -> None:
    window = SlidingWindow(Window(1, 1.0), lease=10.0)
    held = await window.acquire("AC1", 0)
    assert held.granted
    refused = await window.acquire("AC1", 0)
    assert not refused.granted and 0 < refused.wait <= 1.0
    # One waits in line behind another: refused too, without looking at the window.
    first = asyncio.ensure_future(window.acquire("AC1", 30))
    second = await window.acquire("AC1", 0)
    assert not second.granted and second.wait > 0
    await window.release("AC1", held.ticket)
    assert (await first).granted


def client(emulator: Emulator, credentials: Credentials, **config: object) -> StudioClient:
    settings = ClientConfig(base_url="http://emulator.test", retry=FAST_RETRY, **config)  # type: ignore[arg-type]
    return StudioClient(asgi_transport(emulator, settings), credentials)


async def test_a_create_over_the_rate_fails_rate_limited_without_reaching_twilio(
    emulator: Emulator, credentials: Credentials
) -> None:
    emulator.create_limit = 100
    studio = client(emulator, credentials, create_rate=2.0, create_wait=0.0)
    flow = emulator.seeded_handles.survey_flow_sid
    await studio.create_execution(flow, "+14155550001", "+14155550100")
    second = await studio.create_execution(flow, "+14155550002", "+14155550100")
    assert second.sid.startswith("FN")
    with pytest.raises(StudioError) as caught:
        await studio.create_execution(flow, "+14155550003", "+14155550100")
    assert caught.value.reason is Reason.RATE_LIMITED
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 1.0
    assert emulator.requests[CREATE] == 2  # the refused one never left
    await studio.aclose()


@pytest.mark.parametrize("limiter", CREATE_LIMITERS)
async def test_creates_wait_their_turn_and_never_exceed_twilios_limit(
    emulator: Emulator, credentials: Credentials, limiter: CreateLimiter
) -> None:
    emulator.create_limiter = limiter
    emulator.create_limit = 4
    studio = client(emulator, credentials, create_rate=4.0, create_wait=10.0)
    flow = emulator.seeded_handles.survey_flow_sid
    created = await asyncio.gather(
        *(studio.create_execution(flow, f"+1415555{n:04d}", "+14155550100") for n in range(9))
    )
    assert len({execution.sid for execution in created}) == 9
    assert not emulator.throttled
    assert emulator.requests[CREATE] == 9
    await studio.aclose()


async def test_without_pacing_twilios_429s_are_waited_out_and_each_create_made_once(
    emulator: Emulator, credentials: Credentials
) -> None:
    # The emulator's limit is real: this is what the window prevents.
    emulator.create_limit = 4
    studio = client(emulator, credentials, create_rate=None, create_wait=10.0)
    flow = emulator.seeded_handles.survey_flow_sid
    created = await asyncio.gather(
        *(studio.create_execution(flow, f"+1415555{n:04d}", "+14155550100") for n in range(8))
    )
    throttled = sum(emulator.throttled.values())
    assert throttled > 0
    assert len({execution.sid for execution in created}) == 8
    assert emulator.requests[CREATE] == 8 + throttled
    await studio.aclose()


async def test_a_create_answered_429_is_retried_past_max_attempts_within_the_wait(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = client(emulator, credentials, create_wait=30.0)
    flow = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("429", count=5, method="POST", route=CREATE_ROUTE)
    emulator.faults.retry_after = 0.01
    created = await studio.create_execution(flow, "+14155550001", "+14155550100")
    assert created.sid.startswith("FN")
    assert emulator.requests[CREATE] == 6  # five refusals (FAST_RETRY allows 3 attempts)
    await studio.aclose()


async def test_a_429_that_asks_for_longer_than_the_wait_surfaces_with_retry_after(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = client(emulator, credentials, create_wait=2.0)
    flow = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("429", method="POST", route=CREATE_ROUTE, retry_after=30)
    with pytest.raises(StudioError) as caught:
        await studio.create_execution(flow, "+14155550001", "+14155550100")
    assert caught.value.status == 429 and caught.value.retry_after == 30
    assert not caught.value.outcome_unknown  # Twilio carried nothing out
    assert emulator.requests[CREATE] == 1
    await studio.aclose()


async def test_the_account_bound_caps_calls_in_flight(
    emulator: Emulator, credentials: Credentials
) -> None:
    emulator.latency = 0.05
    studio = client(emulator, credentials, account_max_in_flight=2)
    flows = list(emulator.account(credentials.account_sid).flows)
    await asyncio.gather(*(studio.fetch_flow(sid) for sid in flows))
    assert emulator.max_in_flight == 2
    await studio.aclose()


async def test_a_local_semaphore_holds_per_key() -> None:
    semaphore = LocalSemaphore(1)
    async with semaphore.hold("AC1"), semaphore.hold("AC2"):
        pass  # different keys never wait on each other
