"""Webhook mode end to end: the emulator's live mode delivers signed Event Streams
webhooks to a real gateway, and subscribers on a real WebSocket see every step once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.emulator import Emulator, eventstreams
from gateway.emulator.eventstreams import EXECUTION_ENDED, CloudEvent
from gateway.emulator.live import LiveMode, LiveOptions
from gateway.emulator.progress import end_execution
from gateway.events import STEP_ENDED
from gateway.studio import StudioClient
from tests.support import query, until
from tests.support.graphql_ws import connected
from tests.support.live import (
    STEPS,
    UPDATES,
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


def forged_end(emulator: Emulator, flow: str, sid: str) -> CloudEvent:
    record = emulator.account(emulator.account_sid).execution(flow, sid)
    assert record is not None
    return eventstreams.execution_event(EXECUTION_ENDED, record, datetime.now(UTC))


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
        sids = [live.start_execution() for _ in range(EXECUTIONS)]
        flows = {sid: live.emitted[sid][0]["data"]["flow_sid"] for sid in sids}
        emulator.reset_counters()
        async with connected(gateway.url) as client:
            updates = {
                sid: await client.subscribe(UPDATES, {"flow": flows[sid], "execution": sid})
                for sid in sids
            }
            await until(lambda: gateway.subscribers == EXECUTIONS)
            # A forged end of each: refused, it ends nothing.
            for sid in sids:
                assert (
                    await live.deliver([forged_end(emulator, flows[sid], sid)], forged=True) == 403
                )
            while live.live:
                await live.advance()
                # Each step reaches its subscriber before the next round: the webhook
                # brought it (no poller runs, and the subscription reads the list
                # only when it starts and when it ends).
                await until(
                    lambda: all(
                        len(step_sids(updates[sid])) == len(live.emitted[sid]) - 1
                        or updates[sid].done.is_set()
                        for sid in sids
                    )
                )
            await until(lambda: all(op.done.is_set() for op in updates.values()))
        await live.stop()
        assert gateway.live.pollers_started == {}
    # Each subscription read the Steps list twice (its past, and once at the end).
    assert emulator.requests[STEPS] == 2 * EXECUTIONS

    assert set(live.answers) <= {202, 403}
    # Every forged request was refused, and only those.
    assert live.answers[403] == live.forged_sent >= EXECUTIONS
    for sid, operation in updates.items():
        assert operation.ended == "complete" and not operation.errors
        assert step_sids(operation) == await rest_steps(studio, flows[sid], sid)
        assert len(step_sids(operation)) == len(live.emitted[sid]) - 2  # started, ended
        assert all(u["type"] for u in operation.data[:-1])
        assert operation.data[-1] == {"__typename": "Execution", "sid": sid, "status": "ENDED"}


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
