"""One create bucket in Redis for every replica; each process's own while Redis is away."""

from __future__ import annotations

import asyncio

from gateway.shared import RedisTokenBucket, SharedRedis
from gateway.studio.limits import TokenBucket


def replica(shared: SharedRedis, rate: float = 10, burst: float = 5) -> RedisTokenBucket:
    # Each replica has its own connection object in real life; the bucket is the same key.
    return RedisTokenBucket(shared, rate, burst, fallback=TokenBucket(rate, burst))


async def test_replicas_share_one_bucket(shared: SharedRedis) -> None:
    first, second = replica(shared), replica(shared)
    answers = await asyncio.gather(*(bucket.reserve("AC1", 0) for bucket in (first, second) * 5))
    # Five tokens for the account, not five per replica.
    assert sum(a.granted for a in answers) == 5
    refused = [a for a in answers if not a.granted]
    assert all(0 < a.wait <= 0.1 for a in refused)


async def test_reservations_queue_one_turn_apart(shared: SharedRedis) -> None:
    bucket = replica(shared, rate=1, burst=1)
    assert (await bucket.reserve("AC1", 0)).wait == 0
    waits = [(await bucket.reserve("AC1", 5)).wait for _ in range(3)]
    # By Redis's clock, each turn is a second after the previous (less what has passed since).
    assert [round(w + 0.49) for w in waits] == [1, 2, 3]
    over = await bucket.reserve("AC1", 1)
    assert not over.granted and over.wait > 3


async def test_accounts_have_buckets_of_their_own(shared: SharedRedis) -> None:
    bucket = replica(shared, burst=1)
    assert (await bucket.reserve("AC1", 0)).granted
    assert (await bucket.reserve("AC2", 0)).granted
    assert not (await bucket.reserve("AC1", 0)).granted


async def test_without_redis_the_process_bucket_holds(nowhere: SharedRedis) -> None:
    bucket = replica(nowhere, burst=2)
    answers = [await bucket.reserve("AC1", 0) for _ in range(3)]
    assert [a.granted for a in answers] == [True, True, False]
    assert not nowhere.up
