"""The upstream failing reads under live subscriptions: they are tried again, with
backoff, within `STUDIO_GATEWAY_EVENTS_RETRY_FOR`; past it, one clear error."""

from __future__ import annotations

import pytest

from gateway.emulator import Emulator
from gateway.emulator.progress import end_execution, take_step
from gateway.events import EXECUTION_ENDED
from gateway.studio import StudioClient
from tests.support import until
from tests.support.graphql_ws import connected
from tests.support.live import (
    UPDATES,
    execution_event,
    rest_steps,
    sample,
    served,
    step_event,
    step_sids,
)

SUBSCRIBERS = 3
STEPS = 5


@pytest.mark.parametrize("source", ["poll", "webhook"])
async def test_with_a_third_of_reads_failing_every_step_arrives_once_in_order_then_the_end(
    emulator: Emulator, studio: StudioClient, source: str
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    past = len(await rest_steps(studio, flow, execution))
    # 500 is not among the statuses the transport retries: each failure reaches the
    # subscription (or the poller) itself.
    async with (
        served(emulator, shared_reads=False, events_source=source) as gateway,
        connected(gateway.url) as client,
    ):
        broker = gateway.gateway.broker
        emulator.faults.rate_500 = 0.3
        operations = [await client.subscribe(UPDATES, variables) for _ in range(SUBSCRIBERS)]
        await until(lambda: all(len(op.results) >= past for op in operations), seconds=20)
        for _ in range(STEPS):
            step = take_step(emulator, flow, execution)
            if source == "webhook":
                await broker.publish(step_event(emulator, flow, execution, step))
        end_execution(emulator, flow, execution)
        if source == "webhook":
            await broker.publish(execution_event(emulator, flow, execution, EXECUTION_ENDED))
        await until(lambda: all(op.done.is_set() for op in operations), seconds=30)
        emulator.faults.clear()
        text = gateway.gateway.metrics.render().decode()

    expected = await rest_steps(studio, flow, execution)
    assert len(expected) == past + STEPS
    for operation in operations:
        assert operation.ended == "complete" and not operation.errors
        assert step_sids(operation) == expected
        assert operation.data[-1] == {
            "__typename": "Execution",
            "sid": execution,
            "status": "ENDED",
        }
    assert sample(text, 'studio_gateway_live_recoveries_total{kind="retry"}') > 0


async def test_reads_that_keep_failing_end_the_subscription_with_a_clear_error(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    async with (
        served(emulator, events_retry_for=0.5) as gateway,
        connected(gateway.url) as client,
    ):
        updates = await client.subscribe(UPDATES, variables)
        await until(lambda: bool(updates.results) and gateway.subscribers == 1)
        emulator.faults.rate_500 = 1.0
        take_step(emulator, flow, execution)
        await until(updates.done.is_set, seconds=10)

    (error,) = updates.errors
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["twilioStatus"] == 500
    assert "gave up" in error["message"] and "subscription ends" in error["message"]
    assert "Traceback" not in error["message"]
