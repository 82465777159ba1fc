"""The account's create limit in one process: a token bucket the transport asks before each create."""

from __future__ import annotations

import asyncio

import pytest

from gateway.emulator import Emulator
from gateway.studio import ClientConfig, Credentials, Reason, StudioClient, StudioError
from gateway.studio.limits import LocalSemaphore, TokenBucket, create_burst
from tests.support import FAST_RETRY, asgi_transport

CREATE = "POST /v2/Flows/{FlowSid}/Executions"


def test_a_bucket_grants_its_burst_then_reserves_turns_in_order() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=2, clock=lambda: now[0])
    assert [bucket.reserve_now("AC1", 0).granted for _ in range(3)] == [True, True, False]
    # Waiting is allowed: each reservation is a tenth of a second after the one before.
    waits = [bucket.reserve_now("AC1", 1.0) for _ in range(3)]
    assert all(a.granted for a in waits)
    assert [round(a.wait, 3) for a in waits] == [0.1, 0.2, 0.3]
    refused = bucket.reserve_now("AC1", 0.35)
    assert not refused.granted and round(refused.wait, 3) == 0.4
    assert bucket.reserve_now("AC2", 0).granted  # another account has its own bucket
    now[0] += 60
    assert [bucket.reserve_now("AC1", 0).granted for _ in range(3)] == [True, True, False]


def test_bursts_are_half_a_second_of_the_rate() -> None:
    assert create_burst(20) == 10
    assert create_burst(1) == 1
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate=0, burst=1)


def client(emulator: Emulator, credentials: Credentials, **config: object) -> StudioClient:
    settings = ClientConfig(base_url="http://emulator.test", retry=FAST_RETRY, **config)  # type: ignore[arg-type]
    return StudioClient(asgi_transport(emulator, settings), credentials)


async def test_a_create_over_the_rate_fails_rate_limited_without_reaching_twilio(
    emulator: Emulator, credentials: Credentials
) -> None:
    emulator.create_limit = 100
    studio = client(emulator, credentials, create_rate=2.0, create_wait=0.0)
    flow = emulator.seeded_handles.survey_flow_sid
    first = await studio.create_execution(flow, "+14155550001", "+14155550100")
    assert first.sid.startswith("FN")
    with pytest.raises(StudioError) as caught:
        await studio.create_execution(flow, "+14155550002", "+14155550100")
    assert caught.value.reason is Reason.RATE_LIMITED
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 0.5
    assert emulator.requests[CREATE] == 1  # the refused one never left
    await studio.aclose()


async def test_creates_wait_their_turn_and_never_exceed_twilios_limit(
    emulator: Emulator, credentials: Credentials
) -> None:
    emulator.create_limit = 4
    studio = client(emulator, credentials, create_rate=4.0, create_wait=5.0)
    flow = emulator.seeded_handles.survey_flow_sid
    created = await asyncio.gather(
        *(studio.create_execution(flow, f"+1415555{n:04d}", "+14155550100") for n in range(8))
    )
    assert len({execution.sid for execution in created}) == 8
    assert not emulator.throttled
    assert emulator.requests[CREATE] == 8
    await studio.aclose()


async def test_without_the_limit_twilio_answers_429(
    emulator: Emulator, credentials: Credentials
) -> None:
    # The emulator's limit is real: this is what the bucket prevents.
    emulator.create_limit = 4
    studio = client(emulator, credentials, create_rate=None)
    flow = emulator.seeded_handles.survey_flow_sid
    await asyncio.gather(
        *(studio.create_execution(flow, f"+1415555{n:04d}", "+14155550100") for n in range(8)),
        return_exceptions=True,
    )
    assert emulator.throttled
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
