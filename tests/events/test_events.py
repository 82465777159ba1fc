"""Subscriptions fed by events on the broker (as the Event Streams intake publishes them)."""

from __future__ import annotations

from datetime import timedelta

from gateway.emulator import Emulator
from gateway.emulator.progress import end_execution, take_step
from gateway.events import EXECUTION_ENDED, EXECUTION_STARTED
from tests.support import paused, until
from tests.support.graphql_ws import connected
from tests.support.live import execution_event, sample, served, step_event

WEBHOOK = {"events_source": "webhook", "subscription_queue": 3}
STEP = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{Sid}"

BRIEF = """
subscription Brief($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    ... on ExecutionStep { sid }
    ... on Execution { status }
  }
}
"""
WITH_CONTEXT = """
subscription Full($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    ... on ExecutionStep { sid type context }
    ... on Execution { status }
  }
}
"""


async def test_a_slow_subscriber_reads_what_it_missed_and_never_holds_up_another(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    async with (
        served(emulator, **WEBHOOK) as gateway,
        connected(gateway.url) as fast_client,
        connected(gateway.url) as slow_client,
    ):
        fast = await fast_client.subscribe(BRIEF, variables)
        slow = await slow_client.subscribe(WITH_CONTEXT, variables)
        past = len(emulator.account(emulator.account_sid).execution(flow, execution).steps)
        await until(lambda: len(fast.results) == len(slow.results) == past)
        steps = [take_step(emulator, flow, execution, name=f"s{n}") for n in range(10)]
        with paused(emulator):
            # The slow one waits on the upstream for each step's context, and its
            # queue (3) overflows; the fast one reads nothing more and keeps up.
            for n, step in enumerate(steps, 1):
                await gateway.gateway.broker.publish(step_event(emulator, flow, execution, step))
                await until(lambda n=n: len(fast.results) == past + n)
        end_execution(emulator, flow, execution)
        await gateway.gateway.broker.publish(
            execution_event(emulator, flow, execution, EXECUTION_ENDED)
        )
        await until(lambda: fast.done.is_set() and slow.done.is_set())
        text = gateway.gateway.metrics.render().decode()

    assert [u["sid"] for u in fast.data[past:-1]] == [s.sid for s in steps]
    assert fast.data[-1] == {"status": "ENDED"} and not fast.errors
    # What the slow one missed came from the Steps list: each step once, in order.
    assert [u["sid"] for u in slow.data[past:-1]] == [s.sid for s in steps]
    assert slow.data[-1] == {"status": "ENDED"} and not slow.errors
    assert all(u["context"] is not None for u in slow.data[past:-1])
    assert sample(text, 'studio_gateway_live_recoveries_total{kind="repair"}') >= 1


async def test_what_an_event_lacks_is_fetched_through_the_loaders(emulator: Emulator) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    async with (
        served(emulator, shared_reads=False, **WEBHOOK) as gateway,
        connected(gateway.url) as client,
    ):
        full = await client.subscribe(WITH_CONTEXT, variables)
        brief = await client.subscribe(BRIEF, variables)
        await until(lambda: bool(full.results) and len(brief.results) == len(full.results))
        seen = len(full.results)
        step = take_step(emulator, flow, execution, widget_type="send-message")
        emulator.reset_counters()
        await gateway.gateway.broker.publish(step_event(emulator, flow, execution, step))
        await until(lambda: len(full.results) == len(brief.results) == seen + 1)
        # The step's type: one fetch of the step, for the operation that selects it.
        assert emulator.requests[STEP] == 1
        end_execution(emulator, flow, execution)
        await gateway.gateway.broker.publish(
            execution_event(emulator, flow, execution, EXECUTION_ENDED)
        )
        await until(lambda: full.done.is_set() and brief.done.is_set())
    update = full.data[seen]
    assert update["sid"] == step.sid and update["type"] == "send-message"
    assert update["context"] is not None


async def test_events_out_of_order_reach_the_subscriber_in_the_order_they_happened(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    settings = {**WEBHOOK, "subscription_queue": 16}
    async with served(emulator, **settings) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(BRIEF, variables)
        seen = len(emulator.account(emulator.account_sid).execution(flow, execution).steps)
        await until(lambda: len(updates.results) == seen)
        steps = []
        start = emulator.clock()
        for n in range(3):  # a second apart
            emulator.clock = lambda n=n: start + timedelta(seconds=n + 1)
            steps.append(take_step(emulator, flow, execution))
        end_execution(emulator, flow, execution)
        events = [step_event(emulator, flow, execution, s) for s in steps]
        events.append(execution_event(emulator, flow, execution, EXECUTION_ENDED))
        with paused(emulator):  # all four arrive before the subscriber reads on
            for event in [events[3], events[2], events[0], events[1], events[2]]:
                await gateway.gateway.broker.publish(event)
        await until(updates.done.is_set)
    assert [u["sid"] for u in updates.data[seen:-1]] == [s.sid for s in steps]
    assert updates.data[-1] == {"status": "ENDED"}


async def test_flow_executions_yields_executions_as_they_start_and_end(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    query = """
      subscription Flow($flow: ID!, $status: ExecutionStatus) {
        flowExecutions(flowSid: $flow, status: $status) { sid status }
      }
    """
    async with served(emulator, **WEBHOOK) as gateway, connected(gateway.url) as client:
        every = await client.subscribe(query, {"flow": flow})
        ended = await client.subscribe(query, {"flow": flow, "status": "ENDED"})
        await until(lambda: gateway.subscribers == 2)
        broker = gateway.gateway.broker
        await broker.publish(execution_event(emulator, flow, execution, EXECUTION_STARTED))
        end_execution(emulator, flow, execution)
        await broker.publish(execution_event(emulator, flow, execution, EXECUTION_ENDED))
        await until(lambda: len(every.results) == 2 and len(ended.results) == 1)
    assert every.data == [
        {"sid": execution, "status": "ACTIVE"},
        {"sid": execution, "status": "ENDED"},
    ]
    assert ended.data == [{"sid": execution, "status": "ENDED"}]


async def test_a_named_fragment_on_execution_update_gets_the_step_type(
    emulator: Emulator,
) -> None:
    document = """
    subscription Updates($flow: ID!, $execution: ID!) {
      executionUpdates(flowSid: $flow, executionSid: $execution) { ...Update }
    }
    fragment Update on ExecutionUpdate {
      ... on ExecutionStep { sid type }
      ... on Execution { status }
    }
    """
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with served(emulator, **WEBHOOK) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(document, {"flow": flow, "execution": execution})
        seen = len(emulator.account(emulator.account_sid).execution(flow, execution).steps)
        await until(lambda: len(updates.results) == seen)
        step = take_step(emulator, flow, execution, widget_type="send-message")
        await gateway.gateway.broker.publish(step_event(emulator, flow, execution, step))
        await until(lambda: len(updates.results) == seen + 1)
    assert not updates.errors
    assert updates.data[seen] == {"sid": step.sid, "type": "send-message"}
