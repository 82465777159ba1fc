"""Subscriptions cannot multiply upstream calls: each update has a price, a principal's
updates are paid from its budget a minute (past it their nested fields answer
RATE_LIMITED, the updates go on), and subscribers asking the same read of the same
update share one call.

Real uvicorn, real graphql-transport-ws WebSockets, the emulator upstream and its
counters; single flight off (`shared_reads=False`), so every call is counted.
"""

from __future__ import annotations

import json
import time
from contextlib import AsyncExitStack
from typing import Any

from gateway.emulator import Emulator
from gateway.emulator.progress import take_step
from gateway.events import EXECUTION_STARTED
from gateway.security.auth import new_key
from tests.support import until
from tests.support.graphql_ws import Client, Operation, connected
from tests.support.live import Served, arrived, execution_event, served, step_event

STEPS = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
STEP_CONTEXT = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context"
#: Events straight from the broker to the subscribers.
WEBHOOK = {"events_source": "webhook", "events_reorder_window": 0}
#: Each update selects a list: a call per update, `first` items of it.
NESTED = """
subscription Nested($flow: ID!, $first: Int) {
  flowExecutions(flowSid: $flow) { sid status steps(first: $first) { nodes { sid name } } }
}
"""
WITH_CONTEXTS = """
subscription Contexts($flow: ID!) {
  flowExecutions(flowSid: $flow) { sid steps(first: 5) { nodes { sid context } } }
}
"""
STEP_CONTEXTS = """
subscription Steps($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    ... on ExecutionStep { sid context }
  }
}
"""
BUSY, BUSY_HASH = new_key()
OTHER, OTHER_HASH = new_key()
KEYS = json.dumps(
    [
        {"name": "busy", "sha256": BUSY_HASH, "scopes": ["executions:read"]},
        {"name": "other", "sha256": OTHER_HASH, "scopes": ["executions:read"]},
    ]
)


async def deliver(gateway: Served, emulator: Emulator, times: int) -> list[str]:
    """The starts of `times` executions of the active execution's flow, one update each
    (a flow's subscriber is told each execution's status once); their SIDs."""
    flow, *_ = emulator.seeded_handles.active_execution
    executions = sorted(emulator.account(emulator.account_sid).flows[flow].executions)
    assert len(executions) >= times
    for execution in executions[:times]:
        event = execution_event(emulator, flow, execution, EXECUTION_STARTED)
        await gateway.gateway.broker.publish(event)
    return executions[:times]


def nested(result: dict[str, Any]) -> Any:
    return result["data"]["flowExecutions"]["steps"]


async def test_the_estimate_prices_one_update_and_one_update_costs_no_more(
    emulator: Emulator,
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    async with (
        served(emulator, shared_reads=False, **WEBHOOK) as gateway,
        connected(gateway.url) as client,
    ):
        updates = await client.subscribe(WITH_CONTEXTS, {"flow": flow})
        await until(lambda: gateway.subscribers == 1)
        emulator.reset_counters()
        await deliver(gateway, emulator, 1)
        await until(arrived(updates, 1))
        # (The flow's own fetch, at the start, may come after the subscriber joined.)
        calls = emulator.requests[STEPS] + emulator.requests[STEP_CONTEXT]
    (result,) = updates.results
    assert not updates.errors
    # The steps page, and a context for each of its (at most 5) steps.
    assert result["extensions"]["updateCost"] == {"perUpdate": 6, "callsPerMinute": 600}
    assert 1 < calls <= 6
    assert calls == 1 + len(nested(result)["nodes"])


async def test_a_principal_over_its_budget_gets_rate_limited_nested_fields_and_every_update(
    emulator: Emulator,
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    budget, subscriptions, deliveries = 5, 20, 8
    settings = {
        **WEBHOOK,
        "auth": "api_keys",
        "api_keys": KEYS,
        "subscription_calls_per_minute": budget,
    }
    async with (
        served(emulator, shared_reads=False, **settings) as gateway,
        connected(gateway.url, {"X-API-Key": BUSY}) as busy,
        connected(gateway.url, {"X-API-Key": OTHER}) as other,
    ):
        # Each its own argument: no two read the same thing.
        flood = [
            await busy.subscribe(NESTED, {"flow": flow, "first": n + 1})
            for n in range(subscriptions)
        ]
        # Not the same read as any of them (that one would be paid for already).
        calm = await other.subscribe(NESTED, {"flow": flow, "first": subscriptions + 1})
        await until(lambda: gateway.subscribers == subscriptions + 1)
        emulator.reset_counters()
        started = time.monotonic()
        delivered = await deliver(gateway, emulator, deliveries)
        await until(lambda: all(len(op.results) == deliveries for op in [*flood, calm]), 30)
        elapsed = time.monotonic() - started
        steps_calls = emulator.requests[STEPS]

    results = [r for op in flood for r in op.results]
    # Every update came, with what the event itself holds.
    assert len(results) == subscriptions * deliveries
    assert all(
        sorted(r["data"]["flowExecutions"]["sid"] for r in op.results) == delivered for op in flood
    )
    limited = [r for r in results if nested(r) is None]
    assert {
        e["extensions"]["code"] for r in limited for e in r["errors"] if e["path"][-1] == "steps"
    } == {"RATE_LIMITED"}
    assert "STUDIO_GATEWAY_SUBSCRIPTION_CALLS_PER_MINUTE" in limited[0]["errors"][0]["message"]
    # The budget refills at `budget` a minute: whatever the test's pace, the calls
    # are the budget's and the other principal's, not one per subscription and update.
    refilled = budget * elapsed / 60
    assert len(results) - len(limited) <= budget + refilled
    assert steps_calls <= budget + refilled + deliveries
    # Another principal's budget is its own: all of it, whatever the first one spent.
    assert sum(nested(r) is not None for r in calm.results) >= budget


async def test_subscribers_asking_the_same_read_of_an_update_share_one_call_paid_once(
    emulator: Emulator,
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    subscribers, deliveries = 5, 3
    # A budget for one read per update: the same read by every subscriber costs no more.
    settings = {**WEBHOOK, "subscription_calls_per_minute": deliveries}
    async with (
        served(emulator, shared_reads=False, **settings) as gateway,
        AsyncExitStack() as stack,
    ):
        clients: list[Client] = [
            await stack.enter_async_context(connected(gateway.url)) for _ in range(subscribers)
        ]
        operations = [await c.subscribe(NESTED, {"flow": flow, "first": 5}) for c in clients]
        # Two on one connection too.
        operations.append(await clients[0].subscribe(NESTED, {"flow": flow, "first": 5}))
        await until(lambda: gateway.subscribers == subscribers + 1)
        emulator.reset_counters()
        await deliver(gateway, emulator, deliveries)
        await until(lambda: all(len(op.results) == deliveries for op in operations))
        calls = dict(emulator.requests)
    assert calls[STEPS] == deliveries
    assert not any(op.errors for op in operations)
    assert all(nested(r)["nodes"] for op in operations for r in op.results)
    assert len({json.dumps(op.data) for op in operations}) == 1


async def test_subscribers_of_one_step_share_the_read_of_its_context(emulator: Emulator) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    subscribers = 4
    async with (
        served(emulator, shared_reads=False, **WEBHOOK) as gateway,
        AsyncExitStack() as stack,
    ):
        operations: list[Operation] = []
        for _ in range(subscribers):
            client = await stack.enter_async_context(connected(gateway.url))
            operations.append(await client.subscribe(STEP_CONTEXTS, variables))
        past = len(emulator.account(emulator.account_sid).execution(flow, execution).steps)
        await until(lambda: all(len(op.results) == past for op in operations))
        step = take_step(emulator, flow, execution)
        emulator.reset_counters()
        await gateway.gateway.broker.publish(step_event(emulator, flow, execution, step))
        await until(lambda: all(len(op.results) == past + 1 for op in operations))
        calls = emulator.requests[STEP_CONTEXT]
    assert calls == 1
    assert {op.data[-1]["sid"] for op in operations} == {step.sid}
    assert not any(op.errors for op in operations)
