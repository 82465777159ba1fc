"""Every one of the 19 operations, answering and refusing, checked against the spec."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.emulator import Emulator, SeededHandles, create_app
from tests.support import two_widget_flow

from . import contract

SMALL_FLOW = json.dumps(two_widget_flow("Say hello"))
BROKEN_FLOW = json.dumps(
    {
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "x", "next": "nope"}]}
        ],
    }
)
UNKNOWN_FLOW = "FW" + "0" * 32
UNKNOWN_EXECUTION = "FN" + "0" * 32
UNKNOWN_STEP = "FT" + "0" * 32

Path = Callable[[SeededHandles], str]


def flow(h: SeededHandles) -> str:
    return f"/v2/Flows/{h.survey_flow_sid}"


def ended(h: SeededHandles) -> str:
    return f"/v2/Flows/{h.ended_execution.flow_sid}/Executions/{h.ended_execution.execution_sid}"


def active(h: SeededHandles) -> str:
    handle = h.active_execution
    return f"/v2/Flows/{handle.flow_sid}/Executions/{handle.execution_sid}"


def step(h: SeededHandles) -> str:
    s = h.subflow_step
    return f"/v2/Flows/{s.flow_sid}/Executions/{s.execution_sid}/Steps/{s.step_sid}"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: Path
    status: int
    code: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


CASES = [
    # Flows
    Case("list flows", "GET", lambda h: "/v2/Flows", 200),
    Case("list flows, small page", "GET", lambda h: "/v2/Flows", 200, params={"PageSize": "2"}),
    Case("list flows, page 1", "GET", lambda h: "/v2/Flows", 200, params={"Page": "1"}),
    Case("PageSize 0", "GET", lambda h: "/v2/Flows", 400, 20001, params={"PageSize": "0"}),
    Case("PageSize 1001", "GET", lambda h: "/v2/Flows", 400, 20001, params={"PageSize": "1001"}),
    Case("PageSize text", "GET", lambda h: "/v2/Flows", 400, 20001, params={"PageSize": "ten"}),
    Case("Page negative", "GET", lambda h: "/v2/Flows", 400, 20001, params={"Page": "-1"}),
    Case(
        "foreign PageToken", "GET", lambda h: "/v2/Flows", 400, 21481, params={"PageToken": "PAx"}
    ),
    Case(
        "create flow",
        "POST",
        lambda h: "/v2/Flows",
        201,
        data={"FriendlyName": "Hello", "Status": "published", "Definition": SMALL_FLOW},
    ),
    Case(
        "create flow, no name",
        "POST",
        lambda h: "/v2/Flows",
        400,
        20001,
        data={"Status": "draft", "Definition": SMALL_FLOW},
    ),
    Case(
        "create flow, bad status",
        "POST",
        lambda h: "/v2/Flows",
        400,
        20001,
        data={"FriendlyName": "x", "Status": "live", "Definition": SMALL_FLOW},
    ),
    Case(
        "create flow, definition not JSON",
        "POST",
        lambda h: "/v2/Flows",
        400,
        20001,
        data={"FriendlyName": "x", "Status": "draft", "Definition": "{states:"},
    ),
    Case(
        "create flow, invalid definition",
        "POST",
        lambda h: "/v2/Flows",
        400,
        81022,
        data={"FriendlyName": "x", "Status": "draft", "Definition": BROKEN_FLOW},
    ),
    Case("fetch flow", "GET", flow, 200),
    Case("fetch unknown flow", "GET", lambda h: f"/v2/Flows/{UNKNOWN_FLOW}", 404, 20404),
    Case("fetch malformed flow SID", "GET", lambda h: "/v2/Flows/FW123", 404, 20404),
    Case("fetch non-ASCII flow", "GET", lambda h: f"/v2/Flows/{h.non_ascii_flow_sid}", 200),
    Case("update flow", "POST", flow, 200, data={"Status": "published", "FriendlyName": "NPS"}),
    Case(
        "update flow definition",
        "POST",
        flow,
        200,
        data={"Status": "draft", "Definition": SMALL_FLOW, "CommitMessage": "smaller"},
    ),
    Case("update flow, no status", "POST", flow, 400, 20001, data={"FriendlyName": "x"}),
    Case(
        "update flow, invalid definition",
        "POST",
        flow,
        400,
        81022,
        data={"Status": "draft", "Definition": BROKEN_FLOW},
    ),
    Case(
        "update unknown flow",
        "POST",
        lambda h: f"/v2/Flows/{UNKNOWN_FLOW}",
        404,
        20404,
        data={"Status": "draft"},
    ),
    Case("delete flow", "DELETE", lambda h: f"/v2/Flows/{h.ivr_flow_sid}", 204),
    Case("delete unknown flow", "DELETE", lambda h: f"/v2/Flows/{UNKNOWN_FLOW}", 404, 20404),
    Case("no DELETE on the flow list", "DELETE", lambda h: "/v2/Flows", 405, 20004),
    Case("unknown path", "GET", lambda h: "/v2/Flowz", 404, 20404),
    Case("no trailing-slash redirect", "GET", lambda h: "/v2/Flows/", 404, 20404),
    # Revisions
    Case("list revisions", "GET", lambda h: f"{flow(h)}/Revisions", 200),
    Case(
        "list many revisions",
        "GET",
        lambda h: f"/v2/Flows/{h.flow_with_many_revisions_sid}/Revisions",
        200,
    ),
    Case("revisions of unknown flow", "GET", lambda h: f"/v2/Flows/{UNKNOWN_FLOW}/Revisions", 404),
    Case("fetch revision 1", "GET", lambda h: f"{flow(h)}/Revisions/1", 200),
    Case("fetch LatestPublished", "GET", lambda h: f"{flow(h)}/Revisions/LatestPublished", 200),
    Case("fetch LatestRevision", "GET", lambda h: f"{flow(h)}/Revisions/LatestRevision", 200),
    Case("fetch revision 999", "GET", lambda h: f"{flow(h)}/Revisions/999", 404, 20404),
    Case("fetch revision by bad name", "GET", lambda h: f"{flow(h)}/Revisions/Latest", 404, 20404),
    # Validate
    Case(
        "validate",
        "POST",
        lambda h: "/v2/Flows/Validate",
        200,
        data={"FriendlyName": "x", "Status": "draft", "Definition": SMALL_FLOW},
    ),
    Case(
        "validate, invalid definition",
        "POST",
        lambda h: "/v2/Flows/Validate",
        400,
        81022,
        data={"FriendlyName": "x", "Status": "draft", "Definition": BROKEN_FLOW},
    ),
    Case(
        "validate, no definition",
        "POST",
        lambda h: "/v2/Flows/Validate",
        400,
        20001,
        data={"FriendlyName": "x", "Status": "draft"},
    ),
    Case("Validate is not a flow SID", "GET", lambda h: "/v2/Flows/Validate", 405, 20004),
    # Test users
    Case("fetch test users", "GET", lambda h: f"{flow(h)}/TestUsers", 200),
    Case(
        "update test users",
        "POST",
        lambda h: f"{flow(h)}/TestUsers",
        200,
        data={"TestUsers": ["+14155550100", "client:bob"]},
    ),
    Case("update test users, none", "POST", lambda h: f"{flow(h)}/TestUsers", 400, 20001),
    Case("test users of unknown flow", "GET", lambda h: f"/v2/Flows/{UNKNOWN_FLOW}/TestUsers", 404),
    # Executions
    Case("list executions", "GET", lambda h: f"{flow(h)}/Executions", 200),
    Case(
        "list executions, filtered",
        "GET",
        lambda h: f"{flow(h)}/Executions",
        200,
        params={
            "status": "ended",
            "DateCreatedFrom": "2025-05-01",
            "DateCreatedTo": "2025-06-01T09:00:00-07:00",
            "PageSize": "3",
        },
    ),
    Case(
        "list executions, bad status",
        "GET",
        lambda h: f"{flow(h)}/Executions",
        400,
        20001,
        params={"status": "running"},
    ),
    Case(
        "list executions, bad date",
        "GET",
        lambda h: f"{flow(h)}/Executions",
        400,
        20001,
        params={"DateCreatedFrom": "yesterday"},
    ),
    Case(
        "executions of unknown flow", "GET", lambda h: f"/v2/Flows/{UNKNOWN_FLOW}/Executions", 404
    ),
    Case(
        "create execution",
        "POST",
        lambda h: f"{flow(h)}/Executions",
        201,
        data={"To": "+14155550111", "From": "+14155550122", "Parameters": '{"first_name": "Zoë"}'},
    ),
    Case(
        "create execution, no To",
        "POST",
        lambda h: f"{flow(h)}/Executions",
        400,
        20001,
        data={"From": "+14155550122"},
    ),
    Case(
        "create execution, Parameters not an object",
        "POST",
        lambda h: f"{flow(h)}/Executions",
        400,
        20001,
        data={"To": "+14155550111", "From": "+14155550122", "Parameters": "[1, 2]"},
    ),
    Case(
        "create execution, Parameters not JSON",
        "POST",
        lambda h: f"{flow(h)}/Executions",
        400,
        20001,
        data={"To": "+14155550111", "From": "+14155550122", "Parameters": "name=Zoë"},
    ),
    Case(
        "create execution, contact busy",
        "POST",
        lambda h: f"{flow(h)}/Executions",
        409,
        20409,
        data={"To": "{to}", "From": "{from_}"},
    ),
    Case("fetch execution", "GET", ended, 200),
    Case(
        "fetch unknown execution", "GET", lambda h: f"{flow(h)}/Executions/{UNKNOWN_EXECUTION}", 404
    ),
    Case("fetch malformed execution SID", "GET", lambda h: f"{flow(h)}/Executions/FNxyz", 404),
    Case("end execution", "POST", active, 200, data={"Status": "ended"}),
    Case("end ended execution", "POST", ended, 409, 20409, data={"Status": "ended"}),
    Case("reactivate execution", "POST", active, 400, 20001, data={"Status": "active"}),
    Case("update execution, no status", "POST", active, 400, 20001),
    Case("delete execution", "DELETE", ended, 204),
    Case(
        "delete unknown execution",
        "DELETE",
        lambda h: f"{flow(h)}/Executions/{UNKNOWN_EXECUTION}",
        404,
        20404,
    ),
    Case("execution context", "GET", lambda h: f"{ended(h)}/Context", 200),
    Case(
        "context of unknown execution",
        "GET",
        lambda h: f"{flow(h)}/Executions/{UNKNOWN_EXECUTION}/Context",
        404,
    ),
    # Steps
    Case("list steps", "GET", lambda h: f"{ended(h)}/Steps", 200),
    Case(
        "list steps, small page",
        "GET",
        lambda h: f"{ended(h)}/Steps",
        200,
        params={"PageSize": "1"},
    ),
    Case(
        "list steps of unknown execution",
        "GET",
        lambda h: f"{flow(h)}/Executions/{UNKNOWN_EXECUTION}/Steps",
        404,
    ),
    Case("fetch step", "GET", step, 200),
    Case("fetch unknown step", "GET", lambda h: f"{ended(h)}/Steps/{UNKNOWN_STEP}", 404, 20404),
    Case("step context", "GET", lambda h: f"{step(h)}/Context", 200),
    Case(
        "context of unknown step", "GET", lambda h: f"{ended(h)}/Steps/{UNKNOWN_STEP}/Context", 404
    ),
]


def _data(case: Case, handles: SeededHandles) -> dict[str, Any]:
    busy = handles.active_execution
    return {
        key: {"{to}": busy.to, "{from_}": busy.from_}.get(value, value)
        if isinstance(value, str)
        else value
        for key, value in case.data.items()
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_operation_answers_as_the_spec_says(
    case: Case, client: httpx.AsyncClient, emulator: Emulator
) -> None:
    handles = emulator.seeded_handles
    response = await client.request(
        case.method,
        case.path(handles),
        params=case.params,
        data=_data(case, handles) if case.method == "POST" else None,
    )
    assert response.status_code == case.status, response.text
    body = contract.check(response)
    if case.code is not None:
        assert body["code"] == case.code


def test_the_cases_cover_all_19_operations() -> None:
    covered = {
        (case.method.lower(), contract.template_of(case.path(_FAKE_HANDLES)))
        for case in CASES
        if case.status < 300
    }
    operations = {
        (method, path)
        for path, item in contract.spec()["paths"].items()
        for method in item
        if method in ("get", "post", "delete")
    }
    assert len(operations) == 19
    assert operations <= covered


_FAKE_HANDLES = Emulator.seeded(seed=1, executions_per_flow=3, steps_per_execution=3).seeded_handles


ALL_OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in contract.spec()["paths"].items()
    for method in item
    if method in ("get", "post", "delete")
)


@pytest.mark.parametrize(("method", "template"), ALL_OPERATIONS)
@pytest.mark.parametrize("auth", [None, ("ACdec0de5eed00000000000000000000e7", "wrong")])
async def test_every_operation_refuses_missing_or_wrong_credentials(
    method: str, template: str, auth: tuple[str, str] | None, emulator: Emulator
) -> None:
    path = template.format(
        Sid="FW" + "1" * 32,
        FlowSid="FW" + "1" * 32,
        ExecutionSid="FN" + "1" * 32,
        StepSid="FT" + "1" * 32,
        Revision="1",
    )
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as http:
        response = await http.request(method, path, auth=auth)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Twilio API"'
    body = contract.check(response)
    assert (body["code"], body["message"]) == (20003, "Authenticate")
    assert emulator.requests[f"{method} {template}"] == 1
