"""Partial results and clean errors: one failed fetch nulls its field and says why."""

from __future__ import annotations

import json

import pytest

from gateway.emulator import Emulator
from tests.support import Gateway
from tests.support import codes as error_codes

MISSING_FLOW = "FW" + "0" * 32


async def test_a_missing_flow_is_null_with_not_found_and_the_rest_still_answers(
    gateway: Gateway, emulator: Emulator
) -> None:
    result = await gateway.query(
        """query($ok: ID!, $missing: ID!) {
             ok: flow(sid: $ok) { sid friendlyName }
             missing: flow(sid: $missing) { sid friendlyName } }""",
        {"ok": emulator.seeded_handles.survey_flow_sid, "missing": MISSING_FLOW},
    )
    assert result["data"]["ok"]["sid"] == emulator.seeded_handles.survey_flow_sid
    assert result["data"]["missing"] is None
    (error,) = result["errors"]
    assert error["path"] == ["missing"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["twilioCode"] == 20404
    assert error["extensions"]["twilioStatus"] == 404
    assert "/v2/" not in error["message"] and "http" not in error["message"]


@pytest.mark.parametrize(
    "document",
    [
        '{ flow(sid: "FW123") { sid } }',
        '{ execution(flowSid: "FW' + "a" * 32 + '", sid: "not-a-sid") { sid } }',
        '{ executionStep(flowSid: "FW'
        + "a" * 32
        + '", executionSid: "FN'
        + "a" * 32
        + '", sid: "FT12") { sid } }',
        '{ node(id: "bm9wZQ==") { id } }',
        '{ node(id: "%%%") { id } }',
        "{ flows(first: 0) { nodes { sid } } }",
        "{ flows(first: 1001) { nodes { sid } } }",
        '{ flows(after: "garbage") { nodes { sid } } }',
    ],
)
async def test_bad_arguments_are_bad_user_input_with_no_upstream_call(
    gateway: Gateway, document: str
) -> None:
    result = await gateway.query(document)
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert gateway.total_calls == 0


async def test_a_cursor_from_another_list_is_refused(gateway: Gateway, emulator: Emulator) -> None:
    flows = await gateway.data("{ flows(first: 1) { pageInfo { endCursor } } }")
    cursor = flows["flows"]["pageInfo"]["endCursor"]
    result = await gateway.query(
        """query($f: ID!, $c: String!) { flow(sid: $f) { executions(after: $c) { nodes { sid } } } }""",
        {"f": emulator.seeded_handles.survey_flow_sid, "c": cursor},
    )
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "another list" in result["errors"][0]["message"]

    executions = await gateway.data(
        """query($f: ID!) { flow(sid: $f) { executions(first: 1, status: ENDED) {
             pageInfo { endCursor } } } }""",
        {"f": emulator.seeded_handles.survey_flow_sid},
    )
    other_filter = executions["flow"]["executions"]["pageInfo"]["endCursor"]
    result = await gateway.query(
        """query($f: ID!, $c: String!) { flow(sid: $f) {
             executions(after: $c, status: ACTIVE) { nodes { sid } } } }""",
        {"f": emulator.seeded_handles.survey_flow_sid, "c": other_filter},
    )
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_a_conflicting_execution_names_the_active_one(
    gateway: Gateway, emulator: Emulator
) -> None:
    h = emulator.seeded_handles.active_execution
    flow_sid, execution_sid, to, from_ = h.flow_sid, h.execution_sid, h.to, h.from_
    result = await gateway.query(
        """mutation($f: ID!, $to: String!, $from: String!) {
             createExecution(flowSid: $f, to: $to, from: $from) { sid } }""",
        {"f": flow_sid, "to": to, "from": from_},
    )
    assert result["data"]["createExecution"] is None
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["conflictingExecutionSid"] == execution_sid
    assert error["extensions"]["twilioCode"] == 20409
    assert to not in json.dumps(error), "the contact's address is PII"


async def test_rejected_credentials_are_unauthenticated(emulator: Emulator) -> None:
    from tests.support import open_gateway

    async for gw in open_gateway(emulator, twilio_auth_token="wrong-token-zz9"):
        result = await gw.query("{ flows { nodes { sid } } }")
        assert error_codes(result) == ["UNAUTHENTICATED"]
        assert "zz9" not in json.dumps(result)


async def test_rate_limiting_past_the_deadline_reports_the_wait(
    gateway: Gateway, emulator: Emulator
) -> None:
    emulator.faults.enqueue("429", count=3, route="/v2/Flows", retry_after=120)
    result = await gateway.query("{ flows { nodes { sid } } }")
    assert error_codes(result) == ["RATE_LIMITED"]
    assert result["errors"][0]["extensions"]["retryAfter"] == 120


async def test_an_upstream_outage_is_upstream_unavailable_and_other_fields_survive(
    gateway: Gateway, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("503", count=10, route="/v2/Flows/{FlowSid}/Executions")
    result = await gateway.query(
        """query($f: ID!) { flow(sid: $f) { friendlyName executions { nodes { sid } } } }""",
        {"f": flow_sid},
    )
    assert error_codes(result) == ["UPSTREAM_UNAVAILABLE"]
    assert result["data"]["flow"] is None or result["data"]["flow"]["friendlyName"]


async def test_a_malformed_upstream_answer_is_its_own_code(
    gateway: Gateway, emulator: Emulator
) -> None:
    emulator.faults.enqueue("malformed", route="/v2/Flows")
    result = await gateway.query("{ flows { nodes { sid } } }")
    assert error_codes(result) == ["UPSTREAM_MALFORMED_RESPONSE"]


async def test_a_step_naming_a_widget_its_revision_lacks_has_a_null_widget(
    gateway: Gateway, emulator: Emulator
) -> None:
    h = emulator.seeded_handles.step_with_missing_widget
    flow_sid, execution_sid, step_sid = h.flow_sid, h.execution_sid, h.step_sid
    data = await gateway.data(
        """query($f: ID!, $e: ID!, $s: ID!) { executionStep(flowSid: $f, executionSid: $e, sid: $s) {
             transitionedFrom transitionedTo fromWidget { name } toWidget { name } } }""",
        {"f": flow_sid, "e": execution_sid, "s": step_sid},
    )
    step = data["executionStep"]
    missing = [
        step[w] is None
        for w, n in (("fromWidget", "transitionedFrom"), ("toWidget", "transitionedTo"))
        if step[n] not in (None, "Ended")
    ]
    assert any(missing)


async def test_a_subflow_step_reaches_its_parent_step(gateway: Gateway, emulator: Emulator) -> None:
    h = emulator.seeded_handles.subflow_step
    flow_sid, execution_sid, step_sid = h.flow_sid, h.execution_sid, h.step_sid
    data = await gateway.data(
        """query($f: ID!, $e: ID!, $s: ID!) { executionStep(flowSid: $f, executionSid: $e, sid: $s) {
             parentStepSid parentStep { sid type } } }""",
        {"f": flow_sid, "e": execution_sid, "s": step_sid},
    )
    step = data["executionStep"]
    assert step["parentStepSid"] and step["parentStep"]["sid"] == step["parentStepSid"]


async def test_an_execution_with_no_steps_has_an_empty_connection(
    gateway: Gateway, emulator: Emulator
) -> None:
    h = emulator.seeded_handles.execution_without_steps
    flow_sid, execution_sid = h.flow_sid, h.execution_sid
    data = await gateway.data(
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             steps { nodes { sid } pageInfo { hasNextPage startCursor endCursor } } } }""",
        {"f": flow_sid, "e": execution_sid},
    )
    assert data["execution"]["steps"] == {
        "nodes": [],
        "pageInfo": {"hasNextPage": False, "startCursor": None, "endCursor": None},
    }


@pytest.mark.parametrize("argument", ["dateCreatedFrom", "dateCreatedTo"])
@pytest.mark.parametrize("value", ["2024-05-01", "2024-05-01T00:00:00"])
async def test_a_date_without_a_time_zone_names_the_graphql_argument(
    gateway: Gateway, emulator: Emulator, argument: str, value: str
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    result = await gateway.query(
        f"""query($f: ID!, $d: DateTime) {{ flow(sid: $f) {{ sid
             executions({argument}: $d) {{ nodes {{ sid }} }} }} }}""",
        {"f": flow_sid, "d": value},
    )
    assert result["data"]["flow"] == {"sid": flow_sid, "executions": None}
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument
    assert error["message"].startswith(f"{argument} needs ")
    assert "timezone" in error["message"] and "DateCreated" not in error["message"]
    assert gateway.calls["GET /v2/Flows/{FlowSid}/Executions"] == 0
