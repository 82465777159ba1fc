"""The reorder window: what Twilio delivers unordered goes on in the order it happened."""

from __future__ import annotations

from gateway.events import StudioEvent
from gateway.events.reorder import Reorder
from tests.support import until
from tests.support.events import ended_event, step_event


async def test_events_within_the_window_go_on_in_the_order_they_happened_the_end_last() -> None:
    out: list[StudioEvent] = []
    window = Reorder(0.05, out.append)
    for event in [ended_event(), step_event(3), step_event(1), step_event(2)]:
        window.add(event)
    assert out == []  # held
    await until(lambda: len(out) == 4)
    assert [e.id for e in out] == ["EZ1", "EZ2", "EZ3", "EZend"]


async def test_an_event_later_than_the_window_still_goes_on() -> None:
    out: list[StudioEvent] = []
    window = Reorder(0.02, out.append)
    window.add(step_event(2))
    await until(lambda: len(out) == 1)
    window.add(step_event(1))
    await until(lambda: len(out) == 2)
    assert [e.id for e in out] == ["EZ2", "EZ1"]


async def test_without_a_window_each_event_goes_on_at_once() -> None:
    out: list[StudioEvent] = []
    window = Reorder(0.0, out.append)
    window.add(step_event(2))
    window.add(step_event(1))
    assert [e.id for e in out] == ["EZ2", "EZ1"]


async def test_closing_drops_what_is_held() -> None:
    out: list[StudioEvent] = []
    window = Reorder(0.01, out.append)
    window.add(step_event(1))
    window.close()
    late = Reorder(0.01, out.append)
    late.add(step_event(2))
    await until(lambda: len(out) == 1)
    assert [e.id for e in out] == ["EZ2"]
