"""Subscriptions on /metrics: open WebSockets, subscriptions, pollers, events handed
to subscribers; never a SID or an address as a label."""

from __future__ import annotations

import httpx

from gateway.emulator import Emulator
from gateway.emulator.progress import end_execution, take_step
from tests.support import until
from tests.support.graphql_ws import connected
from tests.support.live import UPDATES, sample, served


async def test_metrics_count_websockets_subscriptions_pollers_and_events_delivered(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    record = emulator.account(emulator.account_sid).execution(flow, execution)
    assert record is not None
    variables = {"flow": flow, "execution": execution}
    async with served(emulator) as gateway, httpx.AsyncClient(base_url=gateway.http) as http:

        async def metrics() -> str:
            return (await http.get("/metrics")).text

        async def shows(name: str, value: float) -> bool:
            return sample(await metrics(), name) == value

        async with connected(gateway.url) as client:
            operations = [await client.subscribe(UPDATES, variables) for _ in range(2)]
            await until(lambda: shows("studio_gateway_websocket_connections", 1))
            await until(lambda: shows("studio_gateway_subscriptions", 2))
            await until(lambda: shows("studio_gateway_pollers", 1))
            past = len(record.steps)
            await until(lambda: all(len(op.results) == past for op in operations))
            take_step(emulator, flow, execution)
            end_execution(emulator, flow, execution)
            await until(lambda: all(op.done.is_set() for op in operations))
        await until(lambda: shows("studio_gateway_websocket_connections", 0))
        await until(lambda: shows("studio_gateway_subscriptions", 0))
        await until(lambda: shows("studio_gateway_pollers", 0))
        text = await metrics()

    # The step taken while they watched, to each of the two; and the end to each.
    sent = 'studio_gateway_subscription_updates_total{type="%s"}'
    assert sample(text, sent % "ExecutionStep") == 2
    assert sample(text, sent % "Execution") == 2
    assert execution not in text and flow not in text
    assert record.contact_channel_address not in text
