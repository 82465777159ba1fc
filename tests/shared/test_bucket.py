"""One create window in Redis for every replica; each process's own while Redis is away."""

from __future__ import annotations

import asyncio

from gateway.shared import RedisSlidingWindow, SharedRedis
from gateway.studio.limits import SlidingWindow, Window


def replica(shared: SharedRedis, places: int = 5, span: float = 1.0) -> RedisSlidingWindow:
    # Each replica has its own connection object in real life; the window is the same key.
    window = Window(places, span)
    return RedisSlidingWindow(shared, window, fallback=SlidingWindow(window, lease=30.0))


async def test_replicas_share_one_window(shared: SharedRedis) -> None:
    first, second = replica(shared), replica(shared)
    answers = await asyncio.gather(*(window.acquire("AC1", 0) for window in (first, second) * 5))
    # Five places for the account, not five per replica.
    assert sum(a.granted for a in answers) == 5
    refused = [a for a in answers if not a.granted]
    # Every place is held by a call still out: one frees a span after its answer.
    assert all(0.9 <= a.wait <= 1.0 for a in refused)


async def test_a_place_frees_a_span_after_its_answer(shared: SharedRedis) -> None:
    first, second = replica(shared, places=1, span=0.2), replica(shared, places=1, span=0.2)
    held = await first.acquire("AC1", 0)
    assert held.granted
    # While the call is out, another replica waits however long the span is short.
    assert not (await second.acquire("AC1", 0.1)).granted
    await first.release("AC1", held.ticket)
    turn = await second.acquire("AC1", 5)
    assert turn.granted and turn.wait > 0  # it waited out the span after the answer


async def test_accounts_have_windows_of_their_own(shared: SharedRedis) -> None:
    window = replica(shared, places=1)
    assert (await window.acquire("AC1", 0)).granted
    assert (await window.acquire("AC2", 0)).granted
    assert not (await window.acquire("AC1", 0)).granted


async def test_without_redis_the_process_window_holds(nowhere: SharedRedis) -> None:
    window = replica(nowhere, places=2, span=0.05)
    answers = [await window.acquire("AC1", 0) for _ in range(3)]
    assert [a.granted for a in answers] == [True, True, False]
    assert not nowhere.up
    await window.release("AC1", answers[0].ticket)  # given back to the process's window
    assert (await window.acquire("AC1", 5)).granted
