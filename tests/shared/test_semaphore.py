"""The account's bound on calls in flight, in Redis: leases that expire give slots back."""

from __future__ import annotations

import asyncio

from gateway.shared import RedisSemaphore, SharedRedis
from gateway.studio.limits import LocalSemaphore


def bound(shared: SharedRedis, limit: int, lease: float = 5.0) -> RedisSemaphore:
    return RedisSemaphore(shared, limit, lease=lease, fallback=LocalSemaphore(limit))


async def test_replicas_share_the_slots(shared: SharedRedis) -> None:
    first, second = bound(shared, 2), bound(shared, 2)
    holding = 0
    most = 0

    async def call(semaphore: RedisSemaphore) -> None:
        nonlocal holding, most
        async with semaphore.hold("AC1"):
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.05)
            holding -= 1

    await asyncio.gather(*(call(s) for s in (first, second) * 4))
    assert most == 2
    assert await shared.client.zcard(shared.key("slots", "AC1")) == 0  # all given back


async def test_a_crashed_replicas_slot_comes_back_when_its_lease_runs_out(
    shared: SharedRedis,
) -> None:
    crashed = bound(shared, 1, lease=0.3)
    holder = crashed.hold("AC1")
    await holder.__aenter__()  # ... and the replica dies without leaving
    survivor = bound(shared, 1)
    async with asyncio.timeout(5):
        async with survivor.hold("AC1"):
            pass  # got the slot once the dead lease expired


async def test_without_redis_each_process_keeps_its_own_bound(nowhere: SharedRedis) -> None:
    semaphore = bound(nowhere, 1)
    async with semaphore.hold("AC1"):
        waiting = asyncio.ensure_future(_enter(semaphore))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the process's own bound of 1 holds
    await asyncio.wait_for(waiting, 2)


async def _enter(semaphore: RedisSemaphore) -> None:
    async with semaphore.hold("AC1"):
        pass
