"""A create that got no answer saying whether it ran is never left unknown: the gateway
looks at the flow's executions once and answers with the execution it started, as
failed when Twilio never carried it out, or as CREATE_OUTCOME_UNKNOWN naming what to
check. The POST is sent once, whatever happens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.emulator import Emulator
from tests.support import Rig, codes

CREATE_ROUTE = "/v2/Flows/{FlowSid}/Executions"
CREATE_EXECUTION = f"POST {CREATE_ROUTE}"
LIST_EXECUTIONS = f"GET {CREATE_ROUTE}"

CREATE = """mutation($f: ID!, $to: String!) {
  createExecution(flowSid: $f, to: $to, from: "+15005550001") { sid status } }"""
END = """mutation($f: ID!, $sid: ID!) { endExecution(flowSid: $f, sid: $sid) { status } }"""


def executions_for(emulator: Emulator, flow_sid: str, to: str) -> list[str]:
    flow = emulator.account(emulator.account_sid).flows[flow_sid]
    return [e.sid for e in flow.executions.values() if e.contact_channel_address == to]


@pytest.mark.parametrize("fault", ["hang", "drop", "500"])
async def test_a_create_twilio_carried_out_without_answering_is_answered_with_its_sid(
    rig: Rig, emulator: Emulator, fault: str
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    to = "+15005550911"
    # Twilio runs the create, then stalls (or breaks the connection, or answers 500).
    emulator.faults.enqueue(fault, method="POST", route=CREATE_ROUTE, processed=True)

    result = await rig.query(CREATE, {"f": flow_sid, "to": to})

    assert "errors" not in result, result["errors"]
    assert [result["data"]["createExecution"]["sid"]] == executions_for(emulator, flow_sid, to)
    assert emulator.requests[CREATE_EXECUTION] == 1
    assert emulator.requests[LIST_EXECUTIONS] == 1  # one look


@pytest.mark.parametrize(
    ("fault", "code"), [("hang", "UPSTREAM_TIMEOUT"), ("500", "UPSTREAM_UNAVAILABLE")]
)
async def test_a_create_twilio_never_carried_out_is_answered_as_failed(
    rig: Rig, emulator: Emulator, fault: str, code: str
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    to = "+15005550912"
    emulator.faults.enqueue(fault, method="POST", route=CREATE_ROUTE)

    result = await rig.query(CREATE, {"f": flow_sid, "to": to})

    assert result["data"]["createExecution"] is None
    assert codes(result) == [code]
    (error,) = result["errors"]
    assert error["extensions"]["created"] is False
    assert "not create it" in error["message"] and "safe to try again" in error["message"]
    assert executions_for(emulator, flow_sid, to) == []
    assert emulator.requests[CREATE_EXECUTION] == 1
    assert emulator.requests[LIST_EXECUTIONS] == 1


async def test_when_the_look_cannot_settle_it_the_error_names_the_execution_to_check(
    rig: Rig, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    to = "+15005550913"
    # Both executions below are dated after the send, as Twilio would date them.
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    emulator.clock = lambda: later
    earlier = (await rig.query(CREATE, {"f": flow_sid, "to": to}))["data"]["createExecution"]
    await rig.query(END, {"f": flow_sid, "sid": earlier["sid"]})
    emulator.faults.enqueue("hang", method="POST", route=CREATE_ROUTE, processed=True)

    result = await rig.query(CREATE, {"f": flow_sid, "to": to})

    # Two executions for the contact since the send: which one is this create's?
    assert result["data"]["createExecution"] is None
    (error,) = result["errors"]
    created = [sid for sid in executions_for(emulator, flow_sid, to) if sid != earlier["sid"]]
    assert len(created) == 1
    assert error["extensions"]["code"] == "CREATE_OUTCOME_UNKNOWN"
    assert error["extensions"]["executionSid"] in {created[0], earlier["sid"]}
    assert error["extensions"]["executionSid"] in error["message"]
    assert emulator.requests[CREATE_EXECUTION] == 1


async def test_when_the_look_fails_the_outcome_is_unknown_and_never_a_plain_timeout(
    rig: Rig, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    emulator.faults.enqueue("hang", method="POST", route=CREATE_ROUTE, processed=True)
    emulator.faults.enqueue("500", method="GET", route=CREATE_ROUTE)

    result = await rig.query(CREATE, {"f": flow_sid, "to": "+15005550914"})

    assert codes(result) == ["CREATE_OUTCOME_UNKNOWN"]
    assert "executionSid" not in result["errors"][0]["extensions"]
    assert "check them before trying again" in result["errors"][0]["message"]
    assert emulator.requests[CREATE_EXECUTION] == 1
    assert emulator.requests[LIST_EXECUTIONS] == 1
