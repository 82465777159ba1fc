"""A message captured on the events channel and published again is not news: each
replica hands an event id to its subscribers once, and a message from long ago,
or moved to another account's channel, or re-sent as another replica's, is refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from gateway.cache import CacheCipher, RedisCache, new_key
from gateway.emulator import Emulator
from gateway.events import EXECUTION_STARTED, StudioEvent
from gateway.events.redis import MAX_AGE, RedisBroker
from gateway.shared import SharedRedis
from tests.support import until
from tests.support.events import ACCOUNT, REDIS_URL, step_event
from tests.support.graphql_ws import connected
from tests.support.live import execution_event, served

FLOW_EXECUTIONS = """
subscription Started($flow: ID!) { flowExecutions(flowSid: $flow) { sid } }
"""


async def capture(channel: str, publish: Callable[[], Awaitable[None]]) -> bytes:
    """What `publish()` put on `channel`, byte for byte."""
    raw = aioredis.Redis.from_url(REDIS_URL)
    pubsub = raw.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=1.0)  # the subscription's confirmation
        await publish()
        message = None
        while message is None:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        data: bytes = message["data"]
        return data
    finally:
        await pubsub.aclose()
        await raw.aclose()


async def publish_raw(channel: str, data: bytes) -> None:
    raw = aioredis.Redis.from_url(REDIS_URL)
    try:
        await raw.publish(channel, data)
    finally:
        await raw.aclose()


async def test_a_replayed_message_reaches_a_websocket_subscriber_once(
    emulator: Emulator, redis_prefix: str
) -> None:
    key = new_key()
    flow = emulator.seeded_handles.survey_flow_sid
    first, second = list(emulator.account(emulator.account_sid).flows[flow].executions)[:2]
    started = [execution_event(emulator, flow, sid, EXECUTION_STARTED) for sid in (first, second)]
    cache = RedisCache(SharedRedis(REDIS_URL, prefix=redis_prefix))
    shared = SharedRedis(REDIS_URL, prefix=redis_prefix)
    # Another replica, on the same Redis and keys.
    other = RedisBroker(shared, cipher=CacheCipher.from_text(key))
    channel = other.channel(emulator.account_sid)
    try:
        async with (
            served(emulator, cache=cache, events=True, cache_encryption_keys=key) as gateway,
            connected(gateway.url) as client,
        ):
            broker = gateway.gateway.broker
            assert isinstance(broker, RedisBroker)
            updates = await client.subscribe(FLOW_EXECUTIONS, {"flow": flow})
            await until(lambda: gateway.subscribers == 1)
            await broker.ready()

            message = await capture(channel, lambda: other.publish(started[0]))
            await until(lambda: len(updates.results) == 1)
            await publish_raw(channel, message)  # the replay
            await other.publish(started[1])
            await until(lambda: second in str(updates.results))
    finally:
        await other.aclose()
        await shared.aclose()
        await cache.aclose()
    assert [update["sid"] for update in updates.data] == [first, second]
    assert broker.refused == 1


@asynccontextmanager
async def two_replicas(
    prefix: str, *, cipher: CacheCipher | None, publisher_clock: Callable[[], float] = time.time
) -> AsyncIterator[tuple[RedisBroker, RedisBroker, list[StudioEvent]]]:
    """A publishing replica and a listening one (its listener's events)."""
    shared = [SharedRedis(REDIS_URL, prefix=prefix) for _ in range(2)]
    publisher = RedisBroker(shared[0], cipher=cipher, clock=publisher_clock)
    listener = RedisBroker(shared[1], cipher=cipher)
    heard: list[StudioEvent] = []
    listener.listen(ACCOUNT, heard.append)
    try:
        await listener.ready()
        yield publisher, listener, heard
    finally:
        for broker, redis in zip((publisher, listener), shared, strict=True):
            await broker.aclose()
            await redis.aclose()


async def test_without_a_cipher_a_replayed_message_is_handed_on_once_too(
    redis_prefix: str,
) -> None:
    async with two_replicas(redis_prefix, cipher=None) as (publisher, listener, heard):
        channel = publisher.channel(ACCOUNT)
        message = await capture(channel, lambda: publisher.publish(step_event(1)))
        await publish_raw(channel, message)
        await publisher.publish(step_event(2))
        await until(lambda: "EZ2" in [event.id for event in heard])
    assert [event.id for event in heard] == ["EZ1", "EZ2"]
    assert listener.refused == 1


async def test_a_message_published_long_ago_is_refused(redis_prefix: str) -> None:
    """What a replay looks like once every replica has forgotten the event's id."""
    cipher = CacheCipher.from_text(new_key())
    long_ago = lambda: time.time() - 10 * MAX_AGE  # noqa: E731
    async with two_replicas(redis_prefix, cipher=cipher, publisher_clock=long_ago) as (
        publisher,
        listener,
        heard,
    ):
        await publisher.publish(step_event(1))
        await until(lambda: listener.refused == 1)
    assert heard == []


async def test_a_sealed_message_moved_or_re_sent_as_another_replica_does_not_open(
    redis_prefix: str,
) -> None:
    cipher = CacheCipher.from_text(new_key())
    other_account = "AC" + "f" * 32
    async with two_replicas(redis_prefix, cipher=cipher) as (publisher, listener, heard):
        moved: list[StudioEvent] = []
        listener.listen(other_account, moved.append)
        channel = publisher.channel(ACCOUNT)
        message = await capture(channel, lambda: publisher.publish(step_event(1)))
        await until(lambda: len(heard) == 1)
        origin, _, sealed = message.partition(b"\n")
        await publish_raw(publisher.channel(other_account), message)
        await publish_raw(channel, b"0" * len(origin) + b"\n" + sealed)
        await until(lambda: listener.unreadable == 2)
    assert [event.id for event in heard] == ["EZ1"]
    assert moved == []
