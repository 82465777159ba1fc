"""Without Event Streams: one poller per watched execution, however many watch it."""

from __future__ import annotations

import asyncio

from gateway.cache import RedisCache
from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from gateway.emulator.progress import end_execution, take_step
from gateway.events import EXECUTION_ENDED, EXECUTION_STARTED, StudioEvent
from gateway.events.broker import LocalBroker
from gateway.events.poller import Poller, PollPolicy
from gateway.events.watch import Live, LiveConfig, Subscriber
from gateway.graphql.subscription import Refused
from gateway.shared import SharedRedis
from gateway.studio import Credentials, StudioClient
from tests.support import REDIS_URL, basic, free_port, paused, until
from tests.support.graphql_ws import connected
from tests.support.live import STEPS, UPDATES, served, step_sids

SUBSCRIBERS = 5


async def test_five_subscribers_share_one_poller(emulator: Emulator) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with served(emulator, shared_reads=False) as gateway, connected(gateway.url) as client:
        live = gateway.live
        emulator.reset_counters()
        variables = {"flow": flow, "execution": execution}
        operations = [await client.subscribe(UPDATES, variables) for _ in range(SUBSCRIBERS)]
        await until(lambda: all(op.results for op in operations))
        pollers = live.pollers()
        take_step(emulator, flow, execution)
        end_execution(emulator, flow, execution)
        await until(lambda: all(op.done.is_set() for op in operations))

    assert live.pollers_started == 1
    assert len({tuple(u["sid"] for u in op.data) for op in operations}) == 1
    # Each subscriber reads the past; the read once more at the end is one for them
    # all (the end is one update, its reads shared); every other read is the poller's.
    (poller,) = pollers
    assert poller.polls >= 1
    assert emulator.requests[STEPS] == poller.polls + SUBSCRIBERS + 1


async def test_two_replicas_on_one_redis_poll_an_execution_once(
    emulator: Emulator, redis_prefix: str
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    caches = [RedisCache(SharedRedis(REDIS_URL, prefix=redis_prefix)) for _ in range(2)]
    async with (
        served(emulator, cache=caches[0], shared_reads=False) as a,
        served(emulator, cache=caches[1], shared_reads=False) as b,
        connected(a.url) as on_a,
        connected(b.url) as on_b,
    ):
        # What a shared (Redis) broker does: an event published on one replica
        # reaches the listeners of both.
        b.gateway.broker = a.gateway.broker
        emulator.reset_counters()
        operations = [await c.subscribe(UPDATES, variables) for c in (on_a, on_b, on_a, on_b)]
        await until(lambda: all(op.results for op in operations))
        pollers: list[Poller] = []
        for replica in (a, b):
            pollers.extend(replica.live.pollers())
        take_step(emulator, flow, execution)
        await until(lambda: all(len(op.results) == len(operations[0].results) for op in operations))
        end_execution(emulator, flow, execution)
        await until(lambda: all(op.done.is_set() for op in operations))
    for cache in caches:
        await cache.aclose()

    assert len(pollers) == 2  # one candidate per replica...
    polls = sorted(p.polls for p in pollers)
    assert polls[0] == 0 and polls[1] >= 1  # ...and only the lease's holder polls
    # Each subscriber reads the past; the end's read is one per replica, shared.
    assert emulator.requests[STEPS] == polls[1] + len(operations) + 2
    assert len({tuple(u["sid"] for u in op.data) for op in operations}) == 1


async def test_flow_executions_polls_the_flow_for_executions_that_start_and_end(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    query = "subscription($f: ID!) { flowExecutions(flowSid: $f) { sid status } }"
    async with served(emulator) as gateway, connected(gateway.url) as client:
        every = await client.subscribe(query, {"f": flow})
        await until(lambda: any(p.polls for p in gateway.live.pollers()))
        started = await studio.create_execution(flow, "+15550001111", "+15550002222", {})
        await until(lambda: len(every.results) == 1)
        await studio.update_execution(flow, started.sid)
        await until(lambda: len(every.results) == 2)
        assert gateway.live.pollers_started == 1
    assert every.data == [
        {"sid": started.sid, "status": "ACTIVE"},
        {"sid": started.sid, "status": "ENDED"},
    ]


async def test_the_poller_stops_when_its_last_subscriber_leaves(emulator: Emulator) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    async with served(emulator) as gateway, connected(gateway.url) as client:
        first = await client.subscribe(UPDATES, variables)
        second = await client.subscribe(UPDATES, variables)
        await until(lambda: any(p.polls for p in gateway.live.pollers()))
        (watch,) = gateway.live.watches.values()
        await client.complete(first)
        await until(lambda: gateway.subscribers == 1)
        assert watch.task is not None and not watch.task.done()
        await client.complete(second)
        await until(lambda: watch.task is not None and watch.task.done())
        assert not gateway.live.watches
        polls = watch.poller.polls if watch.poller else 0
        take_step(emulator, flow, execution)
        record = emulator.account(emulator.account_sid).execution(flow, execution)
        assert record is not None
        # A new subscriber starts a new poller.
        third = await client.subscribe(UPDATES, variables)
        await until(lambda: len(third.results) == len(record.steps))
        assert polls >= 1 and gateway.live.pollers_started == 2


async def test_without_redis_a_replica_polls_alone(emulator: Emulator, redis_prefix: str) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    nowhere = SharedRedis(f"redis://127.0.0.1:{free_port()}/0", prefix=redis_prefix)
    cache = RedisCache(nowhere)
    async with (
        served(emulator, cache=cache) as gateway,
        connected(gateway.url) as client,
    ):
        updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
        await until(lambda: bool(updates.results))
        step = take_step(emulator, flow, execution)
        await until(lambda: step.sid in {u["sid"] for u in updates.data})
        end_execution(emulator, flow, execution)
        await until(updates.done.is_set)
    await cache.aclose()
    assert not nowhere.up
    assert updates.data[-1]["status"] == "ENDED" and not updates.errors


async def test_a_wrong_token_subscribing_first_never_polls_for_the_right_subscribers(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    wrong, right = basic(DEMO_ACCOUNT_SID, "wrong-token"), basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    async with (
        served(emulator, upstream_credentials="passthrough") as gateway,
        connected(gateway.url, wrong) as intruder,
        connected(gateway.url, right) as client,
    ):
        # Both join the watch before Twilio has answered either.
        with paused(emulator):
            refused = await intruder.subscribe(UPDATES, variables)
            await until(lambda: gateway.subscribers == 1)
            updates = await client.subscribe(UPDATES, variables)
            await until(lambda: gateway.subscribers == 2)
        await until(lambda: refused.done.is_set() and bool(updates.results))
        step = take_step(emulator, flow, execution)
        await until(lambda: step.sid in step_sids(updates))
    assert [e["extensions"]["code"] for e in refused.errors] == ["UNAUTHENTICATED"]
    assert gateway.live.pollers_started == 1


async def test_credentials_twilio_stops_accepting_end_the_subscription_and_its_poller(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    auth = basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    async with (
        served(emulator, upstream_credentials="passthrough") as gateway,
        connected(gateway.url, auth) as client,
    ):
        updates = await client.subscribe(UPDATES, variables)
        await until(lambda: any(p.polls for p in gateway.live.pollers()))
        (watch,) = gateway.live.watches.values()
        task = watch.task
        emulator.account(emulator.account_sid).auth_token = "rotated"
        await until(lambda: updates.done.is_set())
        assert task is not None
        await until(task.done)
    assert [e["extensions"]["code"] for e in updates.errors] == ["UNAUTHENTICATED"]
    assert not gateway.live.watches


async def test_each_flow_executions_update_reads_the_execution_afresh(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    query = """
    subscription($f: ID!) {
      flowExecutions(flowSid: $f) { sid status context steps { nodes { sid } } }
    }
    """
    async with served(emulator) as gateway, connected(gateway.url) as client:
        every = await client.subscribe(query, {"f": flow})
        await until(lambda: any(p.polls for p in gateway.live.pollers()))
        started = await studio.create_execution(flow, "+15550001111", "+15550002222", {})
        await until(lambda: len(every.results) == 1)
        for n in range(2):
            take_step(emulator, flow, started.sid).variables = {"answer": str(n)}
        end_execution(emulator, flow, started.sid)
        await until(lambda: len(every.results) == 2)
        steps = [s.sid async for s in studio.iter_execution_steps(flow, started.sid)]
        context = await studio.fetch_execution_context(flow, started.sid)
    active, ended = every.data
    assert not every.errors
    assert ended["status"] == "ENDED" and len(steps) > len(active["steps"]["nodes"])
    assert sorted(s["sid"] for s in ended["steps"]["nodes"]) == sorted(steps)
    assert ended["context"] == context.context


async def test_the_ended_execution_of_execution_updates_has_its_context_now(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    query = """
    subscription($flow: ID!, $execution: ID!) {
      executionUpdates(flowSid: $flow, executionSid: $execution) {
        ... on ExecutionStep { sid execution { context } }
        ... on Execution { sid status context }
      }
    }
    """
    variables = {"flow": flow, "execution": execution}
    async with served(emulator) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(query, variables)
        await until(lambda: bool(updates.results))  # the execution's context as it was
        await until(lambda: any(p.polls for p in gateway.live.pollers()))
        take_step(emulator, flow, execution).variables = {"answer": "yes"}
        end_execution(emulator, flow, execution)
        await until(updates.done.is_set)
        context = await studio.fetch_execution_context(flow, execution)
    assert not updates.errors
    assert updates.data[-1]["status"] == "ENDED"
    assert updates.data[-1]["context"] == context.context
    assert updates.data[0]["execution"]["context"] != context.context


async def test_a_flow_poller_remembers_only_the_newest_page_of_executions(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    published: list[StudioEvent] = []

    async def publish(event: StudioEvent) -> None:
        published.append(event)

    poller = Poller(studio, flow, None, publish=publish)
    await poller.poll()
    started = [
        await studio.create_execution(flow, f"+1555000{n:04d}", "+15550002222", {})
        for n in range(60)
    ]
    await poller.poll()
    for execution in started[-3:]:
        await studio.update_execution(flow, execution.sid)
    await poller.poll()

    assert poller.remembered == 50  # one page, however many executions it has seen
    told = [(e.type, e.execution_sid) for e in published]
    assert told == [(EXECUTION_STARTED, e.sid) for e in started[-50:]] + [
        (EXECUTION_ENDED, e.sid) for e in started[-3:]
    ]


async def test_when_twilio_refuses_the_pollers_credentials_it_polls_with_another_subscribers(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    key, secret = "SK" + "d" * 32, "a key's secret"
    emulator.add_api_key(key, secret, emulator.account_sid)
    with_key = studio.with_credentials(Credentials.api_key(emulator.account_sid, key, secret))
    broker = LocalBroker()
    live = Live(lambda: broker, LiveConfig(poll=PollPolicy(interval=0.01, max_interval=0.05)))
    by_token = live.execution(studio, flow, execution)
    by_key = live.execution(with_key, flow, execution)
    heard: list[str] = []
    failed: list[Exception] = []

    async def read(feed: Subscriber, into: list[str]) -> None:
        try:
            async for update in feed:
                into.append(update.sid)
        except Exception as error:
            failed.append(error)

    readers = [
        asyncio.create_task(read(by_token, [])),
        asyncio.create_task(read(by_key, heard)),
    ]
    try:
        by_token.verified()  # its client polls
        by_key.verified()
        await until(lambda: any(p.polls for p in live.pollers()))
        emulator.account(emulator.account_sid).auth_token = "rotated"
        await until(lambda: bool(failed))
        step = take_step(emulator, flow, execution)
        await until(lambda: step.sid in heard)
    finally:
        await live.aclose()
        for reader in readers:
            reader.cancel()
    assert [type(error) for error in failed] == [Refused]
    assert live.pollers_started == 1
