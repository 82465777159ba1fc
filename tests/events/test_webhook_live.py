"""Webhook mode end to end: the emulator's live mode delivers signed Event Streams
webhooks to a real gateway, and subscribers on a real WebSocket see every step once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.emulator import Emulator, eventstreams
from gateway.emulator.eventstreams import EXECUTION_ENDED, CloudEvent
from gateway.emulator.live import LiveMode, LiveOptions
from gateway.emulator.progress import end_execution
from gateway.events import STEP_ENDED
from gateway.keeping import READ_AHEAD_MARGIN
from gateway.studio import StudioClient
from tests.support import ended_ago, query, until
from tests.support.graphql_ws import Client, Operation, connected
from tests.support.live import (
    STEPS,
    UPDATES,
    Served,
    late_step,
    rest_steps,
    sample,
    served,
    step_sids,
)

EXECUTIONS = 3
STEPS_OF = """
query Steps($f: ID!, $e: ID!) {
  execution(flowSid: $f, sid: $e) { status steps(first: 50) { nodes { sid } } }
}
"""


Updates = dict[str, Operation]


def start_executions(live: LiveMode) -> dict[str, str]:
    """Live executions, not begun: their SIDs, each to its flow's."""
    sids = [live.start_execution() for _ in range(EXECUTIONS)]
    return {sid: live.emitted[sid][0]["data"]["flow_sid"] for sid in sids}


def forged_end(emulator: Emulator, flow: str, sid: str) -> CloudEvent:
    record = emulator.account(emulator.account_sid).execution(flow, sid)
    assert record is not None
    return eventstreams.execution_event(EXECUTION_ENDED, record, datetime.now(UTC))


async def subscribe_all(client: Client, gateway: Served, flows: dict[str, str]) -> Updates:
    """One subscription to each execution (SID to flow SID), each listening."""
    updates = {
        sid: await client.subscribe(UPDATES, {"flow": flow, "execution": sid})
        for sid, flow in flows.items()
    }
    await until(lambda: gateway.subscribers == len(flows))
    return updates


async def advance_to_the_end(live: LiveMode, updates: Updates) -> None:
    """Round after round until every execution has ended; each step reaches its
    subscriber before the next round (so no read at the end brought it)."""
    while live.live:
        await live.advance()
        await until(
            lambda: all(
                len(step_sids(op)) == len(live.emitted[sid]) - 1 or op.done.is_set()
                for sid, op in updates.items()
            )
        )
    await until(lambda: all(op.done.is_set() for op in updates.values()))


async def assert_each_step_once_in_order(
    studio: StudioClient, live: LiveMode, flows: dict[str, str], updates: Updates
) -> None:
    for sid, operation in updates.items():
        assert operation.ended == "complete" and not operation.errors
        assert step_sids(operation) == await rest_steps(studio, flows[sid], sid)
        assert len(step_sids(operation)) == len(live.emitted[sid]) - 2  # started, ended
        assert all(u["type"] for u in operation.data[:-1])
        assert operation.data[-1] == {"__typename": "Execution", "sid": sid, "status": "ENDED"}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"duplicates": 0.6, "shuffle": True, "seed": 1},
        {"batch": 4, "duplicates": 0.5, "shuffle": True, "seed": 2},
        {"forged": 0.5, "seed": 3},
    ],
    ids=["plain", "duplicated-shuffled", "arrays-duplicated-shuffled", "forged"],
)
async def test_a_subscriber_sees_each_delivered_step_once_in_order_then_the_end(
    emulator: Emulator, studio: StudioClient, options: dict[str, Any]
) -> None:
    async with served(emulator, events=True, shared_reads=False) as gateway:
        live = LiveMode(emulator, LiveOptions(url=gateway.webhook, **options))
        flows = start_executions(live)
        emulator.reset_counters()
        async with connected(gateway.url) as client:
            updates = await subscribe_all(client, gateway, flows)
            # A forged end of each: refused, it ends nothing.
            for sid, flow in flows.items():
                forged = forged_end(emulator, flow, sid)
                assert await live.deliver([forged], forged=True) == 403
            await advance_to_the_end(live, updates)
        await live.stop()
        # The webhook brought every step: no poller ran.
        assert gateway.live.pollers_started == 0
    # Each subscription read the Steps list twice (its past, and once at the end).
    assert emulator.requests[STEPS] == 2 * EXECUTIONS

    assert set(live.answers) <= {202, 403}
    # Every forged request was refused, and only those.
    assert live.answers[403] == live.forged_sent >= EXECUTIONS
    await assert_each_step_once_in_order(studio, live, flows, updates)


async def test_with_events_off_one_poller_per_execution_feeds_the_same_subscriptions(
    emulator: Emulator, studio: StudioClient
) -> None:
    async with served(emulator) as gateway:
        live = LiveMode(emulator, LiveOptions(url=gateway.webhook))
        flows = start_executions(live)
        async with connected(gateway.url) as client:
            updates = await subscribe_all(client, gateway, flows)
            await advance_to_the_end(live, updates)
        await live.stop()
        assert gateway.live.pollers_started == len(flows)
    assert set(live.answers) == {404}  # nothing listens for webhooks
    await assert_each_step_once_in_order(studio, live, flows, updates)


# Seeds whose shuffles put a later step before an earlier one in separate requests.
@pytest.mark.parametrize("seed", [1, 4, 7])
async def test_steps_delivered_late_and_out_of_order_reach_the_subscriber_in_order(
    emulator: Emulator, studio: StudioClient, seed: int
) -> None:
    async with served(emulator, events=True) as gateway:
        live = LiveMode(emulator, LiveOptions(url=gateway.webhook, shuffle=True, seed=seed))
        sid = live.start_execution()
        flow = live.emitted[sid][0]["data"]["flow_sid"]
        async with connected(gateway.url) as client:
            updates = await client.subscribe(UPDATES, {"flow": flow, "execution": sid})
            await until(lambda: gateway.subscribers == 1)
            while live.live:
                # Several rounds' events at once, each in a request of its own, in any order.
                for _ in range(4):
                    await live.advance(deliver=False)
                await live.flush()
            await until(updates.done.is_set)
        await live.stop()

    assert updates.ended == "complete" and not updates.errors
    assert step_sids(updates) == await rest_steps(studio, flow, sid)
    assert updates.data[-1]["status"] == "ENDED"


async def test_an_event_for_a_cached_execution_makes_the_next_query_read_it_afresh(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    end_execution(emulator, flow, execution)
    # Ended over a minute ago by its record: its steps are kept once read.
    ended_ago(emulator, flow, execution, READ_AHEAD_MARGIN + timedelta(seconds=5))
    variables = {"f": flow, "e": execution}
    async with (
        served(emulator, events=True, cache_ttl=3600) as gateway,
        httpx.AsyncClient(base_url=gateway.http) as http,
    ):

        async def steps() -> set[str]:
            data = (await query(http, STEPS_OF, variables))["data"]
            return {node["sid"] for node in data["execution"]["steps"]["nodes"]}

        before = await steps()
        emulator.reset_counters()
        assert await steps() == before and emulator.total_requests == 0  # kept: it has ended
        late = late_step(emulator, flow, execution)
        record = emulator.account(emulator.account_sid).execution(flow, execution)
        assert record is not None
        live = LiveMode(emulator, LiveOptions(url=gateway.webhook))
        assert await live.deliver([eventstreams.step_event(record, late)]) == 202
        await live.stop()
        published = f'studio_gateway_events_total{{outcome="published",type="{STEP_ENDED}"}}'
        await until(lambda: _published(http, published))
        emulator.reset_counters()
        assert await steps() == before | {late.sid}
        assert emulator.total_requests > 0


async def _published(http: httpx.AsyncClient, name: str) -> bool:
    return sample((await http.get("/metrics")).text, name) == 1
