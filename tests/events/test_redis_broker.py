"""The broker across replicas: an event published on one is heard on every other, once."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.cache import CacheCipher, new_key
from gateway.events import StudioEvent
from gateway.events.redis import RedisBroker
from gateway.shared import SharedRedis
from tests.support import SLACK, RedisServer, until
from tests.support.events import ACCOUNT, CONTACT, REDIS_URL, ended_event, step_event


@pytest.fixture
async def replicas(redis_prefix: str) -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    cipher = CacheCipher.from_text(new_key())
    shared = [SharedRedis(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    brokers = (RedisBroker(shared[0], cipher=cipher), RedisBroker(shared[1], cipher=cipher))
    yield brokers
    for broker, redis in zip(brokers, shared, strict=True):
        await broker.aclose()
        await redis.aclose()


async def test_an_event_published_on_one_replica_is_heard_once_on_each(
    replicas: tuple[RedisBroker, RedisBroker],
) -> None:
    a, b = replicas
    heard_a: list[StudioEvent] = []
    heard_b: list[StudioEvent] = []
    a.listen(ACCOUNT, heard_a.append)
    b.listen(ACCOUNT, heard_b.append)
    other: list[StudioEvent] = []
    b.listen("AC" + "f" * 32, other.append)
    await a.ready()
    await b.ready()

    await a.publish(step_event(1))
    await a.publish(ended_event())
    await until(lambda: len(heard_b) == 2)

    assert [e.id for e in heard_a] == ["EZ1", "EZend"]
    assert heard_b == heard_a  # the same records, fields and all
    assert heard_b[1].execution is not None
    assert heard_b[1].execution.contact_channel_address == CONTACT
    await b.publish(step_event(2))
    await until(lambda: len(heard_a) == 3)
    # Redis delivers in the order it was sent: once a later event from the other
    # replica has come, a second copy of EZ2 (b's own) would have come before it.
    await a.publish(step_event(3))
    await until(lambda: heard_b[-1].id == "EZ3")
    assert [e.id for e in heard_b] == ["EZ1", "EZend", "EZ2", "EZ3"]
    assert [e.id for e in heard_a] == ["EZ1", "EZend", "EZ2", "EZ3"]
    assert other == []


async def test_what_crosses_redis_is_sealed(
    replicas: tuple[RedisBroker, RedisBroker], redis_prefix: str
) -> None:
    a, _ = replicas
    raw = aioredis.Redis.from_url(REDIS_URL)
    pubsub = raw.pubsub()
    await pubsub.subscribe(a.channel(ACCOUNT))
    await pubsub.get_message(timeout=1.0)  # the subscription's confirmation
    await a.publish(ended_event())
    message = None
    while message is None:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await raw.aclose()
    assert CONTACT.encode() not in message["data"]
    assert b"EZend" not in message["data"]


async def test_without_a_cipher_no_contact_address_or_context_crosses_redis(
    redis_prefix: str,
) -> None:
    # A polled event carries whole REST records, contexts included.
    secret = {"flow": {"variables": {"answer": "my date of birth"}}}
    step, ended = step_event(1), ended_event()
    assert step.step is not None and ended.execution is not None
    step = dataclasses.replace(step, step=dataclasses.replace(step.step, context=secret))
    ended = dataclasses.replace(
        ended, execution=dataclasses.replace(ended.execution, context=secret)
    )
    shared = [SharedRedis(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    a, b = RedisBroker(shared[0]), RedisBroker(shared[1])
    heard_a: list[StudioEvent] = []
    heard_b: list[StudioEvent] = []
    a.listen(ACCOUNT, heard_a.append)
    b.listen(ACCOUNT, heard_b.append)
    raw = aioredis.Redis.from_url(REDIS_URL)
    pubsub = raw.pubsub(ignore_subscribe_messages=True)
    messages: list[bytes] = []
    try:
        await b.ready()
        await pubsub.subscribe(a.channel(ACCOUNT))
        await a.publish(step)
        await a.publish(ended)
        while len(messages) < 2:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                messages.append(message["data"])
        await until(lambda: len(heard_b) == 2)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await raw.aclose()
        for broker, redis in zip((a, b), shared, strict=True):
            await broker.aclose()
            await redis.aclose()
    for data in messages:
        assert b"my date of birth" not in data and CONTACT.encode() not in data
    assert heard_b[0].step is not None and heard_b[0].step.context is None
    assert heard_b[1].execution is not None and heard_b[1].execution.context is None
    assert heard_b[1].execution.contact_channel_address is None
    assert heard_b[0].step.sid == step.step.sid
    assert heard_a == [step, ended]  # the publishing process keeps them whole


async def test_with_redis_gone_the_process_still_hears_and_others_hear_again_when_it_is_back(
    redis_server: RedisServer,
) -> None:
    shared = [SharedRedis(redis_server.url, retry_interval=0.05) for _ in range(2)]
    a, b = RedisBroker(shared[0]), RedisBroker(shared[1])
    heard_a: list[StudioEvent] = []
    heard_b: list[StudioEvent] = []
    a.listen(ACCOUNT, heard_a.append)
    b.listen(ACCOUNT, heard_b.append)
    try:
        await a.ready()
        await b.ready()
        redis_server.kill()
        await a.publish(step_event(1))
        assert [e.id for e in heard_a] == ["EZ1"]

        redis_server.start()

        async def b_hears_again() -> bool:
            # Until b has subscribed again, what a sends is lost to it: send again.
            event = step_event(len(heard_a) + 1)
            await a.publish(event)
            try:
                await until(lambda: event.id in {e.id for e in heard_b}, 0.5)
            except AssertionError:
                return False
            return True

        await until(b_hears_again, SLACK * 2)
        assert heard_b[-1].id == heard_a[-1].id
    finally:
        for broker, redis in zip((a, b), shared, strict=True):
            await broker.aclose()
            await redis.aclose()


async def test_a_pub_sub_connection_that_stops_answering_is_replaced(
    redis_server: RedisServer,
) -> None:
    shared = [SharedRedis(redis_server.url, retry_interval=0.05) for _ in range(2)]
    a, b = RedisBroker(shared[0]), RedisBroker(shared[1], health_interval=0.1)
    told: list[str] = []
    heard_b: list[StudioEvent] = []
    b.listen(ACCOUNT, heard_b.append, lambda: told.append("missed"), lambda: told.append("lost"))
    try:
        await b.ready()
        assert b.hearing
        assert redis_server.process is not None
        redis_server.process.send_signal(signal.SIGSTOP)  # the connection stays open, silent
        try:
            await until(lambda: b.failures >= 1)
            assert told == ["lost"] and not b.hearing  # its listeners poll meanwhile
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        await until(lambda: told == ["lost", "missed"])  # subscribed again: they are told
        assert b.hearing
        await a.publish(step_event(1))
        await until(lambda: bool(heard_b))
    finally:
        for broker, redis in zip((a, b), shared, strict=True):
            await broker.aclose()
            await redis.aclose()
