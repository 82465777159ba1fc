"""Two replicas on one Redis: the webhook reaches replica A, a subscriber on replica B
gets every step once, in order, then the end, with what crossing Redis left out
fetched through B's loaders."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx

from gateway.cache import RedisCache
from gateway.emulator import Emulator, eventstreams
from gateway.emulator.live import LiveMode, LiveOptions
from gateway.emulator.progress import end_execution
from gateway.events.redis import RedisBroker
from gateway.keeping import READ_AHEAD_MARGIN
from gateway.security.auth import new_key
from gateway.shared import SharedRedis
from gateway.studio import StudioClient
from tests.support import REDIS_URL, ended_ago, query, until
from tests.support.graphql_ws import connected
from tests.support.live import Served, late_step, rest_steps, served, step_sids

AGENT, AGENT_HASH = new_key()
KEYS = json.dumps(
    [{"name": "agent", "sha256": AGENT_HASH, "scopes": ["executions:read", "pii:read"]}]
)
WITH_ADDRESS = """
subscription Updates($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    __typename
    ... on ExecutionStep { sid name }
    ... on Execution { sid status contactChannelAddress }
  }
}
"""


@asynccontextmanager
async def two_replicas(
    emulator: Emulator, prefix: str, **extra: Any
) -> AsyncIterator[tuple[Served, Served]]:
    """Replicas A and B with the webhook on, sharing one Redis (no cache cipher)."""
    caches = [RedisCache(SharedRedis(REDIS_URL, prefix=prefix)) for _ in range(2)]
    settings = {"events": True, "auth": "api_keys", "api_keys": KEYS, **extra}
    try:
        async with (
            served(emulator, cache=caches[0], **settings) as a,
            served(emulator, cache=caches[1], **settings) as b,
        ):
            for replica in (a, b):
                assert isinstance(replica.gateway.broker, RedisBroker)
                await replica.gateway.broker.ready()
            yield a, b
    finally:
        for cache in caches:
            await cache.aclose()


async def test_a_subscriber_on_b_gets_every_step_delivered_to_a(
    emulator: Emulator, studio: StudioClient, redis_prefix: str
) -> None:
    async with two_replicas(emulator, redis_prefix) as (a, b):
        live = LiveMode(emulator, LiveOptions(url=a.webhook, duplicates=0.3, seed=4))
        sid = live.start_execution(to="+15550009876")
        flow = live.emitted[sid][0]["data"]["flow_sid"]
        async with connected(b.url, {"Authorization": f"Bearer {AGENT}"}) as client:
            updates = await client.subscribe(WITH_ADDRESS, {"flow": flow, "execution": sid})
            await until(lambda: b.subscribers == 1)
            while live.live:
                await live.advance()
            await until(updates.done.is_set)
        await live.stop()
        assert isinstance(b.gateway.broker, RedisBroker)
        # B heard them from Redis: the webhook reached A alone.
        assert b.gateway.broker.heard >= len(live.emitted[sid])
        assert a.gateway.live.pollers_started == b.gateway.live.pollers_started == 0

    assert updates.ended == "complete" and not updates.errors
    assert step_sids(updates) == await rest_steps(studio, flow, sid)
    assert updates.data[-1] == {
        "__typename": "Execution",
        "sid": sid,
        "status": "ENDED",
        "contactChannelAddress": "+15550009876",
    }


async def test_flow_executions_on_b_tell_the_contact_address_of_executions_started_on_a(
    emulator: Emulator, redis_prefix: str
) -> None:
    query = (
        "subscription($f: ID!) { flowExecutions(flowSid: $f) { sid status contactChannelAddress } }"
    )
    async with two_replicas(emulator, redis_prefix) as (a, b):
        live = LiveMode(emulator, LiveOptions(url=a.webhook))
        flow = next(s for s, f in live.account.flows.items() if f.latest_published())
        async with connected(b.url, {"Authorization": f"Bearer {AGENT}"}) as client:
            executions = await client.subscribe(query, {"f": flow})
            await until(lambda: b.subscribers == 1)
            sid = live.start_execution(flow, to="+15550004321")
            while live.live:
                await live.advance()
            await until(lambda: len(executions.results) == 2)
        await live.stop()

    assert executions.data == [
        {"sid": sid, "status": status, "contactChannelAddress": "+15550004321"}
        for status in ("ACTIVE", "ENDED")
    ]


async def test_a_webhook_on_a_evicts_what_b_cached_of_the_execution(
    emulator: Emulator, redis_prefix: str
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    end_execution(emulator, flow, execution)
    # Ended over a minute ago by its record: its steps are kept once read.
    ended_ago(emulator, flow, execution, READ_AHEAD_MARGIN + timedelta(seconds=5))
    document = (
        "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { steps { nodes { sid } } } }"
    )
    headers = {"Authorization": f"Bearer {AGENT}"}
    async with (
        two_replicas(emulator, redis_prefix, cache_ttl=3600) as (a, b),
        httpx.AsyncClient(base_url=b.http, headers=headers) as on_b,
    ):

        async def steps() -> set[str]:
            data = (await query(on_b, document, {"f": flow, "e": execution}))["data"]
            return {node["sid"] for node in data["execution"]["steps"]["nodes"]}

        before = await steps()
        late = late_step(emulator, flow, execution)
        assert await steps() == before  # B keeps what it read: the execution had ended
        record = emulator.account(emulator.account_sid).execution(flow, execution)
        assert record is not None
        live = LiveMode(emulator, LiveOptions(url=a.webhook))
        assert await live.deliver([eventstreams.step_event(record, late)]) == 202
        await live.stop()
        await until(lambda: _has(steps(), late.sid))
        assert await steps() == before | {late.sid}


async def _has(found: Awaitable[set[str]], sid: str) -> bool:
    return sid in await found
