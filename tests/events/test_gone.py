"""A watched execution that is deleted ends its subscriptions with NOT_FOUND, never
a poller that polls forever."""

from __future__ import annotations

from gateway.emulator import Emulator
from gateway.studio import StudioClient
from tests.support import until
from tests.support.graphql_ws import connected
from tests.support.live import UPDATES, served


async def test_an_execution_deleted_while_watched_ends_its_subscriptions_with_not_found(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with served(emulator) as gateway, connected(gateway.url) as client:
        operations = [
            await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
            for _ in range(2)
        ]
        await until(lambda: all(op.results for op in operations))
        (watch,) = gateway.live.watches.values()
        await studio.delete_execution(flow, execution)
        await until(lambda: all(op.done.is_set() for op in operations))
        # Its poller stopped: nobody watches it any more.
        await until(lambda: watch.task is not None and watch.task.done())
        assert not gateway.live.watches

    for operation in operations:
        (error,) = operation.errors
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert error["message"].startswith(f"execution {execution} no longer exists")


async def test_watching_an_execution_that_does_not_exist_is_not_found_at_once(
    emulator: Emulator,
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    missing = "FN" + "0" * 32
    async with served(emulator) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(UPDATES, {"flow": flow, "execution": missing})
        await until(updates.done.is_set)
        assert not gateway.live.watches and not gateway.live.pollers()
    (error,) = updates.errors
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == f"execution {missing} was not found"
    assert updates.data == []
