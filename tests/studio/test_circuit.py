"""The circuit breaker, against the emulator's faults: opens, fails fast, half-opens, closes."""

from __future__ import annotations

import asyncio

import pytest

from gateway.emulator import Emulator
from gateway.studio import (
    CircuitPolicy,
    CircuitState,
    ClientConfig,
    Credentials,
    Reason,
    RetryPolicy,
    StudioClient,
    StudioError,
    Transport,
)
from tests.support import asgi_transport, free_port, paused, until

FETCH_FLOW = "GET /v2/Flows/{Sid}"
MISSING_FLOW = "FW" + "0" * 32
#: One attempt per call, so each call is one upstream request the breaker counts.
ONE_ATTEMPT = RetryPolicy(max_attempts=1)


def breaker_client(emulator: Emulator, credentials: Credentials, **policy: object) -> StudioClient:
    settings: dict[str, object] = {
        "failure_ratio": 0.5,
        "min_calls": 10,
        "window": 10.0,
        "cooldown": 60.0,
        "trial_calls": 3,
        **policy,
    }
    config = ClientConfig(
        base_url="http://emulator.test",
        retry=ONE_ATTEMPT,
        circuit=CircuitPolicy(**settings),  # type: ignore[arg-type]
    )
    return StudioClient(asgi_transport(emulator, config), credentials)


async def fail_until_open(studio: StudioClient, emulator: Emulator, kind: str = "500") -> None:
    """Ten failed calls in a row: the breaker's threshold in these tests."""
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue(kind, count=10, route="/v2/Flows/{Sid}")
    for _ in range(10):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(flow_sid)
        assert caught.value.reason is not Reason.CIRCUIT_OPEN
    assert studio.transport.circuit.state is CircuitState.OPEN
    emulator.reset_counters()


async def test_the_circuit_opens_at_the_failure_ratio_and_then_calls_nothing_upstream(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials)
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("500", count=9, route="/v2/Flows/{Sid}")
    for _ in range(9):
        with pytest.raises(StudioError):
            await studio.fetch_flow(flow_sid)
    assert studio.transport.circuit.state is CircuitState.CLOSED, "9 calls: under min_calls"
    emulator.faults.enqueue("500", route="/v2/Flows/{Sid}")
    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)
    assert caught.value.status == 500
    assert studio.transport.circuit.state is CircuitState.OPEN
    emulator.reset_counters()

    for _ in range(50):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(flow_sid)
        assert caught.value.reason is Reason.CIRCUIT_OPEN
        assert caught.value.operation == FETCH_FLOW
        assert 0 < (caught.value.retry_after or 0) <= 60
    assert emulator.total_requests == 0
    stats = studio.transport.circuit.stats
    assert stats.state is CircuitState.OPEN and stats.opened == 1 and stats.rejected == 50
    await studio.aclose()


async def test_an_open_circuit_refuses_before_starting_any_call(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials)
    await fail_until_open(studio, emulator)
    flights = studio.transport.single_flight.stats.started

    for _ in range(100):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(emulator.seeded_handles.survey_flow_sid)
        assert caught.value.reason is Reason.CIRCUIT_OPEN

    # Refusing touches no socket and starts no task (not even a shared read's).
    assert emulator.total_requests == 0
    assert studio.transport.single_flight.stats.started == flights
    await studio.aclose()


async def test_after_the_cooldown_trial_calls_close_the_circuit(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials, cooldown=0.2)
    await fail_until_open(studio, emulator)
    await until(lambda: studio.transport.circuit.state is CircuitState.HALF_OPEN)

    flow_sid = emulator.seeded_handles.survey_flow_sid
    for _ in range(3):
        assert (await studio.fetch_flow(flow_sid)).sid == flow_sid

    assert studio.transport.circuit.state is CircuitState.CLOSED
    assert emulator.requests[FETCH_FLOW] == 3
    assert studio.transport.circuit.stats.calls == 0, "closing starts a fresh window"
    await studio.aclose()


async def test_half_open_lets_only_the_trial_calls_through(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials, cooldown=0.2)
    await fail_until_open(studio, emulator)
    await until(lambda: studio.transport.circuit.state is CircuitState.HALF_OPEN)
    handles = emulator.seeded_handles
    flows = [
        handles.survey_flow_sid,
        handles.ivr_flow_sid,
        handles.reminder_flow_sid,
        handles.subflow_flow_sid,
        handles.non_ascii_flow_sid,
    ]

    with paused(emulator):
        calls = [asyncio.create_task(studio.fetch_flow(f)) for f in flows]
        # Three trial calls wait on Twilio together; the other two were refused at once.
        await until(lambda: emulator.in_flight == 3 and sum(c.done() for c in calls) == 2)
    results = await asyncio.gather(*calls, return_exceptions=True)

    refused = [r for r in results if isinstance(r, StudioError)]
    assert len(refused) == 2 and all(r.reason is Reason.CIRCUIT_OPEN for r in refused)
    assert emulator.requests[FETCH_FLOW] == 3
    assert studio.transport.circuit.state is CircuitState.CLOSED
    await studio.aclose()


async def test_a_failed_trial_call_reopens_the_circuit(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials, cooldown=0.2)
    await fail_until_open(studio, emulator)
    await until(lambda: studio.transport.circuit.state is CircuitState.HALF_OPEN)
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("503", route="/v2/Flows/{Sid}")

    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)
    assert caught.value.status == 503
    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)
    assert caught.value.reason is Reason.CIRCUIT_OPEN

    assert studio.transport.circuit.state is CircuitState.OPEN
    assert studio.transport.circuit.stats.opened == 2
    assert emulator.requests[FETCH_FLOW] == 1
    await studio.aclose()


@pytest.mark.parametrize("kind", ["500", "502", "504", "malformed", "html"])
async def test_server_errors_and_malformed_answers_trip_the_circuit(
    emulator: Emulator, credentials: Credentials, kind: str
) -> None:
    studio = breaker_client(emulator, credentials)
    await fail_until_open(studio, emulator, kind)
    await studio.aclose()


async def test_refused_connections_trip_the_circuit(credentials: Credentials) -> None:
    config = ClientConfig(
        base_url=f"http://127.0.0.1:{free_port()}",
        retry=ONE_ATTEMPT,
        circuit=CircuitPolicy(min_calls=5, cooldown=60),
    )
    studio = StudioClient(Transport(config), credentials)
    for _ in range(5):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(MISSING_FLOW)
        assert caught.value.reason is Reason.NETWORK
    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(MISSING_FLOW)
    assert caught.value.reason is Reason.CIRCUIT_OPEN
    await studio.aclose()


async def test_not_found_rate_limited_and_unauthenticated_never_trip_it(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials)
    for _ in range(30):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(MISSING_FLOW)
        assert caught.value.status == 404
    emulator.faults.enqueue("429", count=30, route="/v2/Flows")
    for _ in range(30):
        with pytest.raises(StudioError) as caught:
            await studio.list_flows()
        assert caught.value.status == 429
    wrong = studio.with_credentials(Credentials.auth_token(credentials.account_sid, "nope"))
    for _ in range(30):
        with pytest.raises(StudioError) as caught:
            await wrong.list_flows()
        assert caught.value.status == 401

    stats = studio.transport.circuit.stats
    assert stats.state is CircuitState.CLOSED
    assert (stats.calls, stats.failures) == (90, 0)
    await studio.aclose()


async def test_a_disabled_circuit_never_opens_but_still_counts(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials, enabled=False)
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("500", count=30, route="/v2/Flows/{Sid}")
    for _ in range(30):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(flow_sid)
        assert caught.value.status == 500

    stats = studio.transport.circuit.stats
    assert stats.state is CircuitState.CLOSED and stats.failures == 30
    assert emulator.requests[FETCH_FLOW] == 30
    await studio.aclose()


async def test_a_retry_stops_when_the_circuit_opens_and_reports_the_real_error(
    emulator: Emulator, credentials: Credentials
) -> None:
    config = ClientConfig(
        base_url="http://emulator.test",
        retry=RetryPolicy(max_attempts=5, backoff=0.001, max_backoff=0.001),
        circuit=CircuitPolicy(min_calls=3, failure_ratio=0.5, cooldown=60),
    )
    studio = StudioClient(asgi_transport(emulator, config), credentials)
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("503", count=10, route="/v2/Flows/{Sid}")

    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)

    assert caught.value.status == 503, "the upstream's own answer, not CIRCUIT_OPEN"
    assert emulator.requests[FETCH_FLOW] == 3
    await studio.aclose()


async def test_the_state_reads_as_plain_data_for_readyz(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = breaker_client(emulator, credentials)
    await fail_until_open(studio, emulator)
    data = studio.transport.circuit.stats.as_dict()
    assert data["state"] == "open"
    assert data["calls"] == 10 and data["failures"] == 10
    assert 59 < data["retry_in"] <= 60
    await studio.aclose()
