"""What a mutation returns is read with the same scopes as anywhere else.

A write scope runs a mutation and reads back the identity of what it changed
(`__typename`, `id`, `sid`, `flowSid`, `executionSid`); every other field of the
payload needs its read scope, and `Flow.testUsers` needs `pii:read` as well.
An operation that reads what its key may not is refused whole, before any
upstream call: the mutation does not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gateway.emulator import Emulator
from gateway.graphql import ids
from tests.security.test_auth import api_keys, call
from tests.support import codes, secured, two_widget_flow

FLOWS_WRITE = ["flows:write"]
FLOWS_WRITE_READ = ["flows:write", "flows:read"]
EXECUTIONS_WRITE = ["executions:write"]
EXECUTIONS_WRITE_READ = ["executions:write", "executions:read"]
PII = ["pii:read"]


def fingerprint(emulator: Emulator) -> Any:
    """The account's flows, revisions, test users and executions, to see whether anything ran."""
    flows = emulator.account(emulator.account_sid).flows
    return sorted(
        (
            sid,
            flow.friendly_name,
            len(flow.revisions),
            tuple(flow.test_users),
            tuple(sorted((e.sid, e.status) for e in flow.executions.values())),
        )
        for sid, flow in flows.items()
    )


@dataclass(frozen=True)
class Case:
    """One mutation: its document (`SELECTION` stands for what it reads back) and variables."""

    name: str
    document: str
    write: list[str]
    read: list[str]

    def variables(self, emulator: Emulator) -> dict[str, Any]:
        handles = emulator.seeded_handles
        active = handles.active_execution
        return {
            "f": handles.survey_flow_sid,
            "e": active.execution_sid,
            "ef": active.flow_sid,
            "d": two_widget_flow("Changed by a write-only key"),
            "from": active.from_,
        }

    def with_selection(self, selection: str) -> str:
        return self.document.replace("SELECTION", selection)


CASES = [
    Case(
        "createFlow",
        """mutation($d: JSON!) { createFlow(friendlyName: "New", status: PUBLISHED,
             definition: $d) { SELECTION } }""",
        FLOWS_WRITE,
        ["flows:read"],
    ),
    Case(
        "updateFlow",
        """mutation($f: ID!, $d: JSON!) { updateFlow(sid: $f, status: PUBLISHED,
             friendlyName: "Renamed", definition: $d) { SELECTION } }""",
        FLOWS_WRITE,
        ["flows:read"],
    ),
    Case(
        "updateFlowTestUsers",
        """mutation($f: ID!) { updateFlowTestUsers(sid: $f, testUsers: ["+15005550077"]) {
             SELECTION } }""",
        FLOWS_WRITE,
        ["flows:read"],
    ),
    Case(
        "createExecution",
        """mutation($f: ID!, $from: String!) { createExecution(flowSid: $f, to: "+15005550071",
             from: $from) { SELECTION } }""",
        EXECUTIONS_WRITE,
        ["executions:read"],
    ),
    Case(
        "endExecution",
        """mutation($ef: ID!, $e: ID!) { endExecution(flowSid: $ef, sid: $e) { SELECTION } }""",
        EXECUTIONS_WRITE,
        ["executions:read"],
    ),
]
FLOW_CASES = [c for c in CASES if c.write == FLOWS_WRITE]
EXECUTION_CASES = [c for c in CASES if c.write == EXECUTIONS_WRITE]
ids_of = [c.name for c in CASES]


async def run(
    emulator: Emulator, scopes: list[str], document: str, variables: dict[str, Any]
) -> dict[str, Any]:
    key = "sgw_mutation_scopes_1"
    async with secured(emulator, auth="api_keys", api_keys=api_keys(**{key: scopes})) as http:
        emulator.reset_counters()
        response = await call(http, document, variables, **{"X-API-Key": key})
    assert response.status_code == 200
    return dict(response.json())


def assert_refused(emulator: Emulator, before: Any, body: dict[str, Any], scope: str) -> None:
    assert body.get("data") is None
    assert set(codes(body)) == {"FORBIDDEN"}
    assert scope in {e["extensions"]["requiredScope"] for e in body["errors"]}
    assert emulator.total_requests == 0
    assert fingerprint(emulator) == before


# -- data fields need the read scope --------------------------------------------

DATA_FIELD = {
    "createFlow": "friendlyName",
    "updateFlow": "friendlyName",
    "updateFlowTestUsers": "friendlyName",
    "createExecution": "status",
    "endExecution": "steps { nodes { name } }",
}


#: What only the read scope beyond the write scope still cannot read.
NEEDS_MORE = {
    "createFlow": ("testUsers", "pii:read"),
    "updateFlow": ("executions { nodes { sid } }", "executions:read"),
    "updateFlowTestUsers": ("testUsers", "pii:read"),
    "createExecution": ("context", "pii:read"),
    "endExecution": ("flow { friendlyName }", "flows:read"),
}


@pytest.mark.parametrize("case", CASES, ids=ids_of)
async def test_a_write_only_key_reads_back_the_identity_only_and_data_fields_refuse_the_mutation(
    emulator: Emulator, case: Case
) -> None:
    variables = case.variables(emulator)
    before = fingerprint(emulator)
    document = case.with_selection(f"sid {DATA_FIELD[case.name]}")
    body = await run(emulator, case.write, document, variables)
    assert_refused(emulator, before, body, case.read[0])
    error = body["errors"][0]
    field = DATA_FIELD[case.name].split(" ")[0]
    assert error["extensions"]["fieldPath"] == f"{case.name}.{field}"
    assert case.read[0] in error["message"] and error["locations"]

    identity = "__typename id sid" + (" flowSid" if case in EXECUTION_CASES else "")
    body = await run(emulator, case.write, case.with_selection(identity), variables)
    assert "errors" not in body, body["errors"]
    payload = body["data"][case.name]
    assert payload["sid"] and ids.decode(payload["id"])[0] == payload["__typename"]
    assert fingerprint(emulator) != before


@pytest.mark.parametrize("case", CASES, ids=ids_of)
async def test_with_the_read_scope_the_payload_is_readable_but_what_needs_more(
    emulator: Emulator, case: Case
) -> None:
    variables = case.variables(emulator)
    scopes = case.write + case.read
    before = fingerprint(emulator)
    more, scope = NEEDS_MORE[case.name]
    refused = await run(emulator, scopes, case.with_selection(f"sid {more}"), variables)
    assert_refused(emulator, before, refused, scope)

    body = await run(
        emulator, scopes, case.with_selection(f"sid {DATA_FIELD[case.name]}"), variables
    )
    assert "errors" not in body, body["errors"]
    field = DATA_FIELD[case.name].split(" ")[0]
    assert body["data"][case.name][field] is not None
    assert fingerprint(emulator) != before


# -- no way around it -------------------------------------------------------------

# What the payload selects, then any fragments the document defines.
FLOW_BYPASSES = {
    "named fragment": ("...F", "fragment F on Flow { sid friendlyName }", "flows:read"),
    "nested named fragments": (
        "...A",
        "fragment A on Flow { sid ...B } fragment B on Flow { definition }",
        "flows:read",
    ),
    "inline fragment on Node": (
        "... on Node { id ... on Flow { widgets { name } } }",
        "",
        "flows:read",
    ),
    "named fragment on Node": (
        "...N",
        "fragment N on Node { id ... on Flow { status } }",
        "flows:read",
    ),
    "alias": ("sid name: friendlyName", "", "flows:read"),
    "alias named like an identity field": ("sid: friendlyName", "", "flows:read"),
    "revisions": ("revisions { edges { node { sid definition } } }", "", "flows:read"),
    "revision identity": ("revisions { nodes { id } }", "", "flows:read"),
    "testUsers": ("testUsers", "", "pii:read"),
    "executions": ("executions { nodes { sid } }", "", "executions:read"),
}


EXECUTION_BYPASSES = {
    "named fragment": ("...E", "fragment E on Execution { sid contactSid }", "executions:read"),
    "inline fragment on Node": (
        "... on Node { ... on Execution { status } }",
        "",
        "executions:read",
    ),
    "alias": ("s: steps { nodes { n: name } }", "", "executions:read"),
    "steps' context": ("steps { nodes { context } }", "", "pii:read"),
    "context": ("context", "", "pii:read"),
    "contactChannelAddress": ("contactChannelAddress", "", "pii:read"),
    "flow": ("flow { sid }", "", "flows:read"),
    "a step's widget": ("steps { nodes { sid toWidget { name } } }", "", "flows:read"),
}


BYPASSES = [
    *((case, name, *FLOW_BYPASSES[name]) for case in FLOW_CASES for name in FLOW_BYPASSES),
    *(
        (case, name, *EXECUTION_BYPASSES[name])
        for case in EXECUTION_CASES
        for name in EXECUTION_BYPASSES
    ),
]


@pytest.mark.parametrize(
    ("case", "bypass", "selection", "fragments", "scope"),
    BYPASSES,
    ids=[f"{b[0].name}-{b[1]}" for b in BYPASSES],
)
async def test_fragments_aliases_and_relations_in_a_payload_cannot_bypass_the_check(
    emulator: Emulator, case: Case, bypass: str, selection: str, fragments: str, scope: str
) -> None:
    document = case.with_selection(selection) + fragments
    # Beside the payload's own read scope, what needs more (PII, the other family) is refused.
    scopes = case.write + (case.read if scope not in case.read else [])
    before = fingerprint(emulator)
    body = await run(emulator, scopes, document, case.variables(emulator))
    assert_refused(emulator, before, body, scope)


async def test_test_users_need_pii_read_beside_flows_read(emulator: Emulator) -> None:
    case = next(c for c in CASES if c.name == "updateFlowTestUsers")
    document = case.with_selection("testUsers")
    variables = case.variables(emulator)
    before = fingerprint(emulator)
    write_only = await run(emulator, FLOWS_WRITE, document, variables)
    assert_refused(emulator, before, write_only, "flows:read")
    # One error per missing scope, each naming the field.
    assert sorted(e["extensions"]["requiredScope"] for e in write_only["errors"]) == [
        "flows:read",
        "pii:read",
    ]
    assert {e["extensions"]["fieldPath"] for e in write_only["errors"]} == {
        "updateFlowTestUsers.testUsers"
    }
    no_pii = await run(emulator, FLOWS_WRITE_READ, document, variables)
    assert_refused(emulator, before, no_pii, "pii:read")
    allowed = await run(emulator, FLOWS_WRITE_READ + PII, document, variables)
    assert allowed["data"]["updateFlowTestUsers"]["testUsers"] == ["+15005550077"]


async def test_an_operation_is_never_half_applied(emulator: Emulator) -> None:
    handles = emulator.seeded_handles
    active = handles.active_execution
    document = """mutation($f: ID!, $ef: ID!, $e: ID!) {
      a: updateFlowTestUsers(sid: $f, testUsers: ["+15005550077"]) { sid }
      b: endExecution(flowSid: $ef, sid: $e) { sid status } }"""
    variables = {"f": handles.survey_flow_sid, "ef": active.flow_sid, "e": active.execution_sid}
    before = fingerprint(emulator)
    # Both write scopes, but `b` reads a status: nothing runs, `a` included.
    body = await run(emulator, FLOWS_WRITE + EXECUTIONS_WRITE, document, variables)
    assert_refused(emulator, before, body, "executions:read")
    assert body["errors"][0]["extensions"]["fieldPath"] == "b.status"
    # Without the second mutation's write scope: nothing runs either.
    body = await run(emulator, [*FLOWS_WRITE, "executions:read"], document, variables)
    assert_refused(emulator, before, body, "executions:write")


# -- Flow.testUsers in queries ------------------------------------------------------


async def test_test_users_without_pii_read_are_null_and_forbidden_in_queries(
    emulator: Emulator,
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    document = """query($f: ID!, $id: ID!) {
      flow(sid: $f) { name: friendlyName users: testUsers ...E }
      node(id: $id) { ... on Flow { sid testUsers } }
      flows(first: 2) { nodes { ... on Node { ... on Flow { sid testUsers } } } } }
    fragment E on Flow { executions(first: 1) { nodes { sid contactChannelAddress } } }"""
    variables = {"f": flow_sid, "id": ids.encode("Flow", flow_sid)}
    body = await run(emulator, ["flows:read", "executions:read"], document, variables)
    data = body["data"]
    assert data["flow"]["name"] and data["flow"]["users"] is None
    assert data["flow"]["executions"]["nodes"][0]["contactChannelAddress"] is None
    assert data["node"] == {"sid": flow_sid, "testUsers": None}
    assert all(f["sid"] and f["testUsers"] is None for f in data["flows"]["nodes"])
    assert set(codes(body)) == {"FORBIDDEN"}
    assert {e["extensions"]["requiredScope"] for e in body["errors"]} == {"pii:read"}
    assert emulator.requests["GET /v2/Flows/{Sid}/TestUsers"] == 0
    allowed = await run(emulator, ["flows:read", "pii:read"], document, variables)
    assert isinstance(allowed["data"]["flow"]["users"], list)
