"""The retry budget: under a storm, retries add at most their share of upstream traffic."""

from __future__ import annotations

import pytest

from gateway.emulator import Emulator
from gateway.studio import (
    CircuitPolicy,
    ClientConfig,
    Credentials,
    RetryBudgetPolicy,
    RetryPolicy,
    StudioClient,
    StudioError,
)
from tests.support import asgi_transport

FETCH_FLOW = "GET /v2/Flows/{Sid}"
QUICK_RETRY = RetryPolicy(max_attempts=3, backoff=0.001, max_backoff=0.001)


def budget_client(
    emulator: Emulator, credentials: Credentials, budget: RetryBudgetPolicy
) -> StudioClient:
    config = ClientConfig(
        base_url="http://emulator.test",
        retry=QUICK_RETRY,
        retry_budget=budget,
        circuit=CircuitPolicy(enabled=False),  # let the storm reach the budget
    )
    return StudioClient(asgi_transport(emulator, config), credentials)


async def storm(studio: StudioClient, emulator: Emulator, calls: int) -> None:
    emulator.faults.rate_503 = 1.0
    flow_sid = emulator.seeded_handles.survey_flow_sid
    for _ in range(calls):
        with pytest.raises(StudioError) as caught:
            await studio.fetch_flow(flow_sid)
        assert caught.value.status == 503


async def test_under_a_503_storm_retries_add_at_most_the_budgeted_share(
    emulator: Emulator, credentials: Credentials
) -> None:
    budget = RetryBudgetPolicy(ratio=0.2, min_retries=5, window=10.0)
    studio = budget_client(emulator, credentials, budget)

    await storm(studio, emulator, 100)

    # Unbudgeted, 100 calls of 3 attempts would be 300 requests.
    retries = emulator.requests[FETCH_FLOW] - 100
    assert 20 <= retries <= 5 + 0.2 * 100
    stats = studio.transport.retry_budget.stats
    assert stats.calls == 100 and stats.retries == retries and stats.refused > 0
    await studio.aclose()


async def test_a_quiet_process_can_still_retry_from_the_floor(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = budget_client(emulator, credentials, RetryBudgetPolicy(ratio=0.2, min_retries=2))
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("503", count=2, route="/v2/Flows/{Sid}")

    assert (await studio.fetch_flow(flow_sid)).sid == flow_sid
    assert emulator.requests[FETCH_FLOW] == 3
    await studio.aclose()


async def test_a_spent_budget_fails_the_call_with_its_last_error(
    emulator: Emulator, credentials: Credentials
) -> None:
    studio = budget_client(emulator, credentials, RetryBudgetPolicy(ratio=0.0, min_retries=0))
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("429", route="/v2/Flows/{Sid}", retry_after=0.01)

    with pytest.raises(StudioError) as caught:
        await studio.fetch_flow(flow_sid)

    assert caught.value.status == 429 and caught.value.code == 20429
    assert emulator.requests[FETCH_FLOW] == 1
    assert studio.transport.retry_budget.stats.refused == 1
    await studio.aclose()


async def test_a_disabled_budget_leaves_only_the_per_call_limit(
    emulator: Emulator, credentials: Credentials
) -> None:
    budget = RetryBudgetPolicy(ratio=0.0, min_retries=0, enabled=False)
    studio = budget_client(emulator, credentials, budget)

    await storm(studio, emulator, 20)

    assert emulator.requests[FETCH_FLOW] == 20 * QUICK_RETRY.max_attempts
    await studio.aclose()
