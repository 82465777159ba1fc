"""A watched execution that is deleted ends its subscriptions with NOT_FOUND, never
a poller that polls forever."""

from __future__ import annotations

import pytest

from gateway.emulator import Emulator
from gateway.studio import StudioClient
from tests.support import until
from tests.support.graphql_ws import connected
from tests.support.live import UPDATES, served

FLOW_EXECUTIONS = "subscription($f: ID!) { flowExecutions(flowSid: $f) { sid status } }"
FLOW = "GET /v2/Flows/{Sid}"
NO_FLOW = "FW" + "0" * 32
NO_EXECUTION = "FN" + "0" * 32


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


async def test_a_flow_deleted_while_watched_ends_flow_executions_with_not_found(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    async with served(emulator) as gateway, connected(gateway.url) as client:
        executions = await client.subscribe(FLOW_EXECUTIONS, {"f": flow})
        # It found the flow, and its poller reads the flow's executions.
        await until(lambda: emulator.requests[FLOW] == 1)
        await until(lambda: any(p.polls for p in gateway.live.pollers()))
        await studio.delete_flow(flow)
        await until(executions.done.is_set)
        await until(lambda: not gateway.live.watches)
    (error,) = executions.errors
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"].startswith(f"flow {flow} no longer exists")


@pytest.mark.parametrize(
    ("document", "variables", "message"),
    [
        (UPDATES, {"flow": NO_FLOW, "execution": NO_EXECUTION}, f"execution {NO_EXECUTION}"),
        (FLOW_EXECUTIONS, {"f": NO_FLOW}, f"flow {NO_FLOW}"),
    ],
    ids=["executionUpdates", "flowExecutions"],
)
async def test_watching_what_does_not_exist_is_not_found_at_once(
    emulator: Emulator, document: str, variables: dict[str, str], message: str
) -> None:
    async with served(emulator) as gateway, connected(gateway.url) as client:
        updates = await client.subscribe(document, variables)
        await until(updates.done.is_set)
        assert not gateway.live.watches and not gateway.live.pollers()
    (error,) = updates.errors
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == f"{message} was not found"
    assert updates.data == []
