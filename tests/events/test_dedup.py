"""Each event id is acted on once: in the process, and across replicas through Redis."""

from __future__ import annotations

from gateway.events.dedup import SeenEvents
from gateway.shared import SharedRedis

REDIS = "redis://127.0.0.1:6379/0"
ACCOUNT = "AC" + "a" * 32


async def test_an_id_is_first_once_per_process() -> None:
    seen = SeenEvents()
    assert await seen.first(ACCOUNT, "EZ1")
    assert not await seen.first(ACCOUNT, "EZ1")
    assert await seen.first("AC" + "b" * 32, "EZ1")  # ids are per account


async def test_the_process_forgets_after_the_ttl_and_beyond_its_bound() -> None:
    now = [0.0]
    seen = SeenEvents(ttl=10, max_ids=2, clock=lambda: now[0])
    assert await seen.first(ACCOUNT, "EZ1")
    now[0] = 11
    assert await seen.first(ACCOUNT, "EZ1")
    assert await seen.first(ACCOUNT, "EZ2")
    assert await seen.first(ACCOUNT, "EZ3")  # EZ1 makes room
    assert await seen.first(ACCOUNT, "EZ1")
    assert not await seen.first(ACCOUNT, "EZ3")


async def test_two_replicas_on_one_redis_pass_an_id_once(redis_prefix: str) -> None:
    a, b = SharedRedis(REDIS, prefix=redis_prefix), SharedRedis(REDIS, prefix=redis_prefix)
    try:
        first_a, first_b = SeenEvents(a), SeenEvents(b)
        assert await first_a.first(ACCOUNT, "EZ1")
        assert not await first_b.first(ACCOUNT, "EZ1")
        assert await first_b.first(ACCOUNT, "EZ2")
        assert not await first_a.first(ACCOUNT, "EZ2")
    finally:
        await a.aclose()
        await b.aclose()


async def test_without_redis_the_process_still_decides() -> None:
    gone = SharedRedis("redis://127.0.0.1:1/0", timeout=0.2)
    try:
        seen = SeenEvents(gone)
        assert await seen.first(ACCOUNT, "EZ1")
        assert not await seen.first(ACCOUNT, "EZ1")
    finally:
        await gone.aclose()
