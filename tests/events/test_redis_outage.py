"""Redis stops and starts again (on the same port) under live subscriptions and
webhooks: subscribers hear every step once, in order, then the end, with no
error; evictions queued meanwhile reach every replica once, in order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from gateway.cache import RedisCache
from gateway.emulator import Emulator
from gateway.emulator.live import LiveMode, LiveOptions
from gateway.emulator.progress import end_execution, take_step
from gateway.events.redis import RedisBroker
from gateway.keeping import execution_tag
from gateway.shared import SharedRedis
from gateway.studio import StudioClient
from tests.support import RedisServer, until
from tests.support.graphql_ws import Operation, connected
from tests.support.live import UPDATES, Served, rest_steps, sample, served, step_sids

#: How often a replica tries Redis again once it failed: quick, for the test.
RETRY = 0.05


@asynccontextmanager
async def replicas(
    emulator: Emulator, urls: list[str], **settings: Any
) -> AsyncIterator[list[Served]]:
    """One gateway per Redis URL (the same Redis), each serving on a socket."""
    caches = [RedisCache(SharedRedis(url, retry_interval=RETRY)) for url in urls]
    try:
        async with (
            served(emulator, cache=caches[0], **settings) as a,
            served(emulator, cache=caches[1], **settings) as b,
        ):
            yield [a, b]
    finally:
        for cache in caches:
            await cache.aclose()


def trusted(replica: Served, count: int) -> bool:
    """`count` subscribers whose own first read succeeded (they may be polled for)."""
    return sum(s.trusted for w in replica.live.watches.values() for s in w.subscribers) == count


def recoveries(replica: Served, kind: str) -> float:
    text = replica.gateway.metrics.render().decode()
    return sample(text, f'studio_gateway_live_recoveries_total{{kind="{kind}"}}')


def hearing(replica: Served) -> bool:
    broker = replica.gateway.broker
    assert isinstance(broker, RedisBroker)
    return broker.hearing


def steps_in(operations: list[Operation], count: int) -> bool:
    return all(len(step_sids(op)) >= count for op in operations)


async def test_a_subscriber_on_the_replica_without_webhooks_hears_every_step_while_redis_is_down_and_after(
    emulator: Emulator, studio: StudioClient, redis_server: RedisServer
) -> None:
    urls = [redis_server.url] * 2
    async with replicas(emulator, urls, events=True) as (a, b):
        live = LiveMode(emulator, LiveOptions(url=a.webhook, time_scale=0.001))
        sid = live.start_execution()
        flow = live.emitted[sid][0]["data"]["flow_sid"]
        async with connected(b.url) as client:
            variables = {"flow": flow, "execution": sid}
            operations = [await client.subscribe(UPDATES, variables) for _ in range(2)]
            await until(lambda: trusted(b, 2))
            for replica in (a, b):
                assert isinstance(replica.gateway.broker, RedisBroker)
                await replica.gateway.broker.ready()
            for _ in range(2):
                await live.advance()  # to A, through Redis to B
            await until(lambda: steps_in(operations, 2))

            redis_server.kill()
            await until(lambda: not hearing(b))
            # One poller for the execution, however many subscribers watch it.
            assert b.live.running == 1
            for _ in range(3):
                await live.advance()  # to A, which cannot tell B
            await until(lambda: steps_in(operations, 5), seconds=30)
            assert redis_server.process is not None and redis_server.process.poll() is not None

            redis_server.start()
            await live.advance()  # on its way while B subscribes again
            await until(lambda: hearing(b), seconds=30)
            await until(lambda: b.live.running == 0, seconds=30)  # the fallback finished
            while live.live:
                await live.advance()  # through Redis again
            await until(lambda: all(op.done.is_set() for op in operations), seconds=30)
        await live.stop()
        assert recoveries(b, "fallback") >= 1 and recoveries(b, "repair") >= 1

    expected = await rest_steps(studio, flow, sid)
    for operation in operations:
        assert operation.ended == "complete" and not operation.errors
        assert step_sids(operation) == expected
        assert operation.data[-1] == {"__typename": "Execution", "sid": sid, "status": "ENDED"}


async def test_flow_executions_on_the_replica_without_webhooks_go_on_while_redis_is_down(
    emulator: Emulator, redis_server: RedisServer
) -> None:
    document = "subscription($f: ID!) { flowExecutions(flowSid: $f) { sid status } }"
    async with replicas(emulator, [redis_server.url] * 2, events=True) as (a, b):
        live = LiveMode(emulator, LiveOptions(url=a.webhook, time_scale=0.001))
        flow = next(s for s, f in live.account.flows.items() if f.latest_published())
        async with connected(b.url) as client:
            executions = await client.subscribe(document, {"f": flow})
            await until(lambda: trusted(b, 1))
            redis_server.kill()
            await until(lambda: not hearing(b))
            during = live.start_execution(flow)
            while live.live:
                await live.advance()  # to A, which cannot tell B
            await until(lambda: len(executions.results) == 2, seconds=30)

            redis_server.start()
            await until(lambda: hearing(b) and b.live.running == 0, seconds=30)
            after = live.start_execution(flow)
            while live.live:
                await live.advance()  # through Redis again
            await until(lambda: len(executions.results) == 4, seconds=30)
        await live.stop()

    assert executions.data == [
        {"sid": sid, "status": status} for sid in (during, after) for status in ("ACTIVE", "ENDED")
    ]
    assert not executions.errors


async def test_polling_replicas_carry_their_subscribers_through_a_redis_restart(
    emulator: Emulator, studio: StudioClient, redis_server: RedisServer
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    async with (
        replicas(emulator, [redis_server.url] * 2) as (a, b),
        connected(a.url) as on_a,
        connected(b.url) as on_b,
    ):
        operations = [await client.subscribe(UPDATES, variables) for client in (on_a, on_b)]
        await until(lambda: trusted(a, 1) and trusted(b, 1))
        past = len(step_sids(operations[0]))
        take_step(emulator, flow, execution)
        await until(lambda: steps_in(operations, past + 1))

        redis_server.kill()
        await until(lambda: not hearing(a) and not hearing(b))
        take_step(emulator, flow, execution)
        # Each polls alone: no lease to hold, no pub/sub to hear the other's.
        await until(lambda: steps_in(operations, past + 2), seconds=30)

        redis_server.start()
        take_step(emulator, flow, execution)
        await until(lambda: hearing(a) and hearing(b), seconds=30)
        take_step(emulator, flow, execution)
        await until(lambda: steps_in(operations, past + 4), seconds=30)
        end_execution(emulator, flow, execution)
        await until(lambda: all(op.done.is_set() for op in operations), seconds=30)

    expected = await rest_steps(studio, flow, execution)
    for operation in operations:
        assert operation.ended == "complete" and not operation.errors
        assert step_sids(operation) == expected
        assert operation.data[-1]["status"] == "ENDED"


async def test_evictions_queued_while_redis_was_down_reach_every_replica_once_in_order(
    emulator: Emulator, redis_server: RedisServer
) -> None:
    # Replica A signs in as a user of its own, so the test decides when A may reach
    # Redis again: once B and the test's listener hear the eviction channel.
    async def let_a_in() -> None:
        admin = aioredis.Redis.from_url(redis_server.url)
        await admin.execute_command(
            "ACL", "SETUSER", "replica-a", "on", ">a-password", "~*", "&*", "+@all"
        )
        await admin.aclose()

    await let_a_in()
    urls = [f"redis://replica-a:a-password@127.0.0.1:{redis_server.port}/0", redis_server.url]
    heard: list[list[str]] = []
    async with replicas(emulator, urls, events=True, cache_ttl=3600) as (a, b):
        cache_a, cache_b = a.gateway.cache, b.gateway.cache
        assert cache_a is not None and cache_a.remote is not None and cache_b is not None
        live = LiveMode(emulator, LiveOptions(url=a.webhook, batch=5))
        redis_server.kill()
        sids = [live.start_execution() for _ in range(5)]
        await live.flush()  # one delivery of five events, to A, which cannot evict
        await until(lambda: cache_a.pending == 5)
        await live.stop()

        redis_server.start()
        channel = cache_a.remote.channel
        observer = aioredis.Redis.from_url(redis_server.url)
        listener = observer.pubsub(ignore_subscribe_messages=True)
        try:
            await listener.subscribe(channel)

            async def b_listens() -> bool:
                ((_, listeners),) = await observer.pubsub_numsub(channel)
                return int(listeners) == 2  # B and the test

            await until(b_listens, seconds=30)
            before = cache_b.heard
            await let_a_in()

            async def hear() -> bool:
                message = await listener.get_message(timeout=0.1)
                if message is not None:
                    heard.append(json.loads(message["data"])["tags"])
                return bool(heard) and heard[-1] == ["sentinel"]

            await until(lambda: cache_a.pending == 0, seconds=30)
            await cache_a.invalidate(["sentinel"])
            await until(hear, seconds=30)
            await until(lambda: cache_b.heard == before + 6)
        finally:
            await listener.aclose()  # type: ignore[no-untyped-call]
            await observer.aclose()

    account = emulator.account_sid
    flows = {sid: live.emitted[sid][0]["data"]["flow_sid"] for sid in sids}
    assert heard == [[execution_tag(account, flows[sid], sid)] for sid in sids] + [["sentinel"]]
