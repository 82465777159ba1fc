"""`executionUpdates` over a real WebSocket: every step once, in order, then the end."""

from __future__ import annotations

from gateway.emulator import Emulator
from gateway.emulator.progress import end_execution, take_step
from gateway.studio import StudioClient
from tests.support import until
from tests.support.graphql_ws import connected
from tests.support.live import UPDATES, arrived, rest_steps, served, step_sids


async def test_a_subscriber_sees_every_step_once_in_order_then_the_end(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    past = await rest_steps(studio, flow, execution)
    async with served(emulator) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
        await until(arrived(updates, len(past)))
        for n in range(3):
            take_step(emulator, flow, execution, name=f"answer{n}", to=f"widget{n}")
            await until(arrived(updates, len(past) + n + 1))
        end_execution(emulator, flow, execution)
        await until(updates.done.is_set)

    assert updates.ended == "complete" and not updates.errors
    steps = step_sids(updates)
    assert steps == await rest_steps(studio, flow, execution)
    assert len(steps) == len(set(steps)) == len(past) + 3
    live = [u for u in updates.data if u["__typename"] == "ExecutionStep"][len(past) :]
    assert [u["name"] for u in live] == ["answer0", "answer1", "answer2"]
    assert all(u["type"] for u in live)
    assert updates.data[-1] == {"__typename": "Execution", "sid": execution, "status": "ENDED"}


async def test_a_late_joiner_gets_the_steps_already_taken_first(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    past = await rest_steps(studio, flow, execution)
    async with served(emulator) as gateway, connected(gateway.url) as client:
        early = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
        for n in range(2):
            take_step(emulator, flow, execution, name=f"early{n}")
        await until(arrived(early, len(past) + 2))
        late = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
        await until(arrived(late, len(past) + 2))
        take_step(emulator, flow, execution, name="later")
        await until(lambda: len(early.results) == len(late.results) == len(past) + 3)
        end_execution(emulator, flow, execution)
        await until(lambda: early.done.is_set() and late.done.is_set())

    everything = await rest_steps(studio, flow, execution)
    assert step_sids(late) == step_sids(early) == everything
    assert late.data[-1]["status"] == "ENDED"


async def test_an_ended_execution_answers_its_steps_then_itself(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, execution = emulator.seeded_handles.ended_execution
    async with served(emulator) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
        await until(updates.done.is_set)
    assert step_sids(updates) == await rest_steps(studio, flow, execution)
    assert updates.data[-1]["status"] == "ENDED"


async def test_a_malformed_sid_is_a_clear_error(emulator: Emulator) -> None:
    async with served(emulator) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(UPDATES, {"flow": "FW123", "execution": "nope"})
        await until(updates.done.is_set)
    assert [e["extensions"]["code"] for e in updates.errors] == ["BAD_USER_INPUT"]
    assert "flowSid" in updates.errors[0]["message"]
