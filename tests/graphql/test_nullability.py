"""A field that fails is null alone: its parent and its siblings keep their data.

Every field that can fail (an upstream call, a bad argument, a scope) is nullable,
so graphql-core never has to null a parent, or the whole `data`, in its place.
"""

from __future__ import annotations

from typing import Any

from gateway.emulator import Emulator
from tests.support import Gateway
from tests.support import codes as error_codes


def only_error(result: dict[str, Any], code: str) -> dict[str, Any]:
    assert error_codes(result) == [code], result.get("errors")
    return dict(result["errors"][0])


async def test_a_bad_cursor_on_flows_keeps_the_sibling_flow(
    gateway: Gateway, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    result = await gateway.query(
        """query($f: ID!) { a: flows(after: "bad") { nodes { sid } } b: flow(sid: $f) { sid } }""",
        {"f": flow_sid},
    )
    assert result["data"] == {"a": None, "b": {"sid": flow_sid}}
    assert only_error(result, "BAD_USER_INPUT")["path"] == ["a"]


async def test_a_bad_cursor_on_steps_nulls_the_steps_not_the_flow_above(
    gateway: Gateway, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    result = await gateway.query(
        """query($f: ID!) { flow(sid: $f) { sid friendlyName
             executions(first: 2) { nodes { sid steps(after: "bad") { nodes { sid } } } }
             revisions(first: 1, after: "bad") { nodes { sid } } } }""",
        {"f": flow_sid},
    )
    flow = result["data"]["flow"]
    assert flow["sid"] == flow_sid and flow["friendlyName"]
    executions = flow["executions"]["nodes"]
    assert len(executions) == 2 and all(e["sid"] and e["steps"] is None for e in executions)
    assert flow["revisions"] is None
    assert set(error_codes(result)) == {"BAD_USER_INPUT"} and len(result["errors"]) == 3


async def test_a_failed_validation_call_keeps_the_sibling_flow(
    gateway: Gateway, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("503", count=10, route="/v2/Flows/Validate")
    result = await gateway.query(
        """query($f: ID!) { flow(sid: $f) { sid }
             validateFlow(friendlyName: "v", status: DRAFT, definition: {}) { valid } }""",
        {"f": flow_sid},
    )
    assert result["data"] == {"flow": {"sid": flow_sid}, "validateFlow": None}
    assert only_error(result, "UPSTREAM_UNAVAILABLE")["path"] == ["validateFlow"]


async def test_a_parent_that_fails_to_load_nulls_its_fields_not_the_child_that_named_it(
    gateway: Gateway, emulator: Emulator
) -> None:
    step = emulator.seeded_handles.subflow_step
    emulator.faults.enqueue("503", count=10, route="/v2/Flows/{FlowSid}/Executions/{Sid}")
    emulator.faults.enqueue("503", count=10, route="/v2/Flows/{Sid}")
    result = await gateway.query(
        """query($f: ID!, $e: ID!, $s: ID!) {
             executionStep(flowSid: $f, executionSid: $e, sid: $s) { sid
               execution { sid status }
               flow { sid status widgets { name } } } }""",
        {"f": step.flow_sid, "e": step.execution_sid, "s": step.step_sid},
    )
    data = result["data"]["executionStep"]
    assert data["sid"] == step.step_sid
    assert data["execution"] == {"sid": step.execution_sid, "status": None}
    assert data["flow"] == {"sid": step.flow_sid, "status": None, "widgets": None}
    assert set(error_codes(result)) == {"UPSTREAM_UNAVAILABLE"}
