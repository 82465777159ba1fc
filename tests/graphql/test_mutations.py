"""Mutations change the upstream, return what changed, and clear what the request held."""

from __future__ import annotations

from typing import Any

from gateway.emulator import Emulator
from tests.support import Gateway, two_widget_flow
from tests.support import codes as error_codes

DEFINITION = two_widget_flow("Mutation test flow", "Hello {{flow.data.name}}")
#: A flow whose message waits for a reply: an execution of it stays active.
WAITING: dict[str, Any] = {
    **DEFINITION,
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingRequest", "next": "ask"}],
            "properties": {"offset": {"x": 0, "y": 0}},
        },
        {
            "name": "ask",
            "type": "send-and-wait-for-reply",
            "transitions": [{"event": "incomingMessage"}, {"event": "timeout"}],
            "properties": {"body": "Reply YES", "timeout": "3600", "offset": {"x": 0, "y": 200}},
        },
    ],
}


async def create_flow(gateway: Gateway, definition: dict[str, Any] = DEFINITION) -> str:
    data = await gateway.data(
        """mutation($d: JSON!) { createFlow(friendlyName: "Créée", status: PUBLISHED,
             definition: $d, commitMessage: "first") { sid revision friendlyName widgets { name } } }""",
        {"d": definition},
    )
    flow = data["createFlow"]
    assert flow["revision"] == 1 and flow["friendlyName"] == "Créée"
    assert [w["name"] for w in flow["widgets"]] == [s["name"] for s in definition["states"]]
    return str(flow["sid"])


async def test_flow_create_update_test_users_and_delete(gateway: Gateway) -> None:
    sid = await create_flow(gateway)
    changed = dict(DEFINITION, description="changed")
    data = await gateway.data(
        """mutation($s: ID!, $d: JSON!) {
             updateFlow(sid: $s, status: PUBLISHED, definition: $d, commitMessage: "second") {
               revision definition commitMessage } }""",
        {"s": sid, "d": changed},
    )
    assert data["updateFlow"]["revision"] == 2
    assert data["updateFlow"]["definition"]["description"] == "changed"

    data = await gateway.data(
        """mutation($s: ID!) { updateFlowTestUsers(sid: $s, testUsers: ["ana", "bo"]) { testUsers } }""",
        {"s": sid},
    )
    assert data["updateFlowTestUsers"]["testUsers"] == ["ana", "bo"]

    data = await gateway.data(
        """query($s: ID!) { flow(sid: $s) {
             latest: flowRevision(latest: LATEST_PUBLISHED) { revision }
             first: flowRevision(number: 1) { definition } } }""",
        {"s": sid},
    )
    assert data["flow"]["latest"]["revision"] == 2
    assert data["flow"]["first"]["definition"] == DEFINITION

    deleted = await gateway.data("mutation($s: ID!) { deleteFlow(sid: $s) }", {"s": sid})
    assert deleted["deleteFlow"]
    result = await gateway.query("query($s: ID!) { flow(sid: $s) { sid } }", {"s": sid})
    assert error_codes(result) == ["NOT_FOUND"]


async def test_an_invalid_definition_is_bad_user_input_with_twilios_details(
    gateway: Gateway,
) -> None:
    broken = dict(DEFINITION, states=[*DEFINITION["states"], DEFINITION["states"][1]])
    result = await gateway.query(
        """mutation($d: JSON!) { createFlow(friendlyName: "x", status: DRAFT, definition: $d) { sid } }""",
        {"d": broken},
    )
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"]["twilioCode"] == 81022
    assert result["errors"][0]["extensions"]["details"]


async def test_validate_flow_answers_without_side_effects(gateway: Gateway) -> None:
    before = await gateway.data("{ flows(first: 1000) { nodes { sid } } }")
    ok = await gateway.data(
        """query($d: JSON!) { validateFlow(friendlyName: "v", status: DRAFT, definition: $d) {
             valid errors } }""",
        {"d": DEFINITION},
    )
    assert ok["validateFlow"] == {"valid": True, "errors": None}
    broken = dict(DEFINITION, initial_state="Nowhere")
    bad = await gateway.data(
        """query($d: JSON!) { validateFlow(friendlyName: "v", status: DRAFT, definition: $d) {
             valid errors } }""",
        {"d": broken},
    )
    assert bad["validateFlow"]["valid"] is False and bad["validateFlow"]["errors"]
    assert await gateway.data("{ flows(first: 1000) { nodes { sid } } }") == before


async def test_an_execution_started_ended_and_deleted_through_the_gateway(
    gateway: Gateway, emulator: Emulator
) -> None:
    # The flow waits for the contact's reply, so the new execution stays active.
    sid = await create_flow(gateway, WAITING)
    data = await gateway.data(
        """mutation($f: ID!, $p: JSON) { createExecution(flowSid: $f, to: "+15005550006",
             from: "+15005550001", parameters: $p) { sid status flowVersion context
               steps { nodes { name } } } }""",
        {"f": sid, "p": {"name": "Ada"}},
    )
    execution = data["createExecution"]
    assert execution["flowVersion"] == 1
    assert execution["context"]["flow"]["data"] == {"name": "Ada"}
    assert execution["steps"]["nodes"]

    assert execution["status"] == "ACTIVE"
    ended = await gateway.data(
        "mutation($f: ID!, $e: ID!) { endExecution(flowSid: $f, sid: $e) { status } }",
        {"f": sid, "e": execution["sid"]},
    )
    assert ended["endExecution"]["status"] == "ENDED"
    stored = emulator.account(emulator.account_sid).flows[sid].executions[execution["sid"]]
    assert stored.status == "ended"

    deleted = await gateway.data(
        "mutation($f: ID!, $e: ID!) { deleteExecution(flowSid: $f, sid: $e) }",
        {"f": sid, "e": execution["sid"]},
    )
    assert deleted["deleteExecution"]
    result = await gateway.query(
        "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { sid } }",
        {"f": sid, "e": execution["sid"]},
    )
    assert error_codes(result) == ["NOT_FOUND"]


async def test_a_mutation_clears_what_the_request_had_read(gateway: Gateway) -> None:
    sid = await create_flow(gateway)
    data = await gateway.data(
        """mutation($s: ID!) {
             a: updateFlowTestUsers(sid: $s, testUsers: ["ana"]) { testUsers }
             b: updateFlowTestUsers(sid: $s, testUsers: ["bo", "cy"]) { testUsers }
             c: updateFlow(sid: $s, status: PUBLISHED, friendlyName: "Renamed") { friendlyName revision }
           }""",
        {"s": sid},
    )
    assert data["a"]["testUsers"] == ["ana"]
    assert data["b"]["testUsers"] == ["bo", "cy"]
    assert data["c"]["friendlyName"] == "Renamed"


async def test_ending_an_execution_twice_is_a_conflict(
    gateway: Gateway, emulator: Emulator
) -> None:
    h = emulator.seeded_handles.active_execution
    flow_sid, execution_sid = h.flow_sid, h.execution_sid
    query = "mutation($f: ID!, $e: ID!) { endExecution(flowSid: $f, sid: $e) { status } }"
    first = await gateway.data(query, {"f": flow_sid, "e": execution_sid})
    assert first["endExecution"]["status"] == "ENDED"
    again = await gateway.query(query, {"f": flow_sid, "e": execution_sid})
    assert error_codes(again) == ["CONFLICT"]
