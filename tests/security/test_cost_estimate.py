"""The upstream-cost estimate against the real count, query by query.

The limits refuse an operation by its estimate before any call, so the
estimate must never be below what the operation really costs: a query that
slips under the budget by an underestimate is a query the budget does not
bound. It must not be wildly above either, or honest queries get refused.

Each case runs through the gateway in front of the seeded emulator (5 flows,
8 executions each, up to 5 steps each) and compares
`extensions.cost.estimatedUpstreamCalls` with the emulator's request
counters for that request. For every case: real <= estimate. For a
*realistic* case (its `first`s fit the lists it reads): estimate <= 2 x real.
A case that asks a wide `first` over a few items is not realistic: the
estimate has to assume the list is that long.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.emulator import Emulator
from tests.support import (
    MULTIPART_ACCEPT,
    Gateway,
    open_gateway,
    plain,
    read_multipart,
    two_widget_flow,
)
from tests.support import codes as error_codes

Variables = dict[str, Any]


@dataclass(frozen=True)
class Facts:
    """Handles on the seeded account, and what earlier responses returned."""

    handles: Any
    ivr_execution: str
    ids: dict[str, str]
    flow_cursors: list[str]
    execution_cursors: list[str]
    #: The cursor of the first of the many-revisions flow's revisions, from `first: 1`.
    revision_cursor: str


@dataclass(frozen=True)
class Case:
    name: str
    document: str
    variables: Callable[[Facts], Variables] = lambda _: {}
    realistic: bool = True
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.name


def survey(facts: Facts) -> Variables:
    return {"f": facts.handles.survey_flow_sid}


def ended(facts: Facts) -> Variables:
    flow, execution = facts.handles.ended_execution
    return {"f": flow, "e": execution}


def step(handle: str) -> Callable[[Facts], Variables]:
    def variables(facts: Facts) -> Variables:
        flow, execution, sid = getattr(facts.handles, handle)
        return {"f": flow, "e": execution, "s": sid}

    return variables


def node(kind: str) -> Callable[[Facts], Variables]:
    return lambda facts: {"id": facts.ids[kind]}


DEFINITION = two_widget_flow("cost matrix", "hi")

QUERIES = [
    # -- the flows list ----------------------------------------------------------
    Case(
        "flows: list fields only",
        "{ flows(first: 5) { nodes { id sid friendlyName status revision dateCreated } } }",
    ),
    Case("flows: the default first", "{ flows { nodes { sid } } }"),
    Case(
        "flows: what the list leaves out fetches each flow",
        "{ flows(first: 2) { nodes { definition commitMessage valid } } }",
    ),
    Case(
        "flows: widgets through edges",
        "{ flows(first: 5) { edges { cursor node { widgets { name type transitions { event next } } } } } }",
    ),
    Case(
        "flows: a wide first over five flows",
        "{ flows(first: 1000) { nodes { executions(first: 3) { nodes { sid } } } } }",
        realistic=False,
    ),
    Case(
        "flows: default firsts all the way down to each execution's flow",
        "{ flows { nodes { executions(first: 2) { nodes { flow { definition } } } } } }",
        realistic=False,
    ),
    Case(
        "flows: revisions and their flow, default first over five flows",
        "{ flows { nodes { revisions(first: 2) { nodes { flow { friendlyName } widgets { name } } } } } }",
        realistic=False,
    ),
    # -- nested lists --------------------------------------------------------------
    Case(
        "flows > executions > steps > step context (PII)",
        """{ flows(first: 5) { nodes { sid executions(first: 8) { nodes { sid
             steps(first: 5) { nodes { sid name context } } } } } } }""",
    ),
    Case(
        "flows > executions > steps > widgets of the revision each ran on",
        """{ flows(first: 5) { nodes { executions(first: 8) { nodes { flowVersion
             steps(first: 5) { nodes { fromWidget { name } toWidget { name type } } } } } } } }""",
    ),
    Case(
        "executions filtered by status",
        """query($f: ID!) { flow(sid: $f) {
             executions(first: 7, status: ENDED) { nodes { sid status dateCreated } } } }""",
        survey,
    ),
    Case(
        "executions filtered by date",
        """query($f: ID!) { flow(sid: $f) {
             executions(first: 8, dateCreatedFrom: "2000-01-01T00:00:00Z") { nodes { sid } } } }""",
        survey,
    ),
    Case(
        "executions with their contexts and contacts (PII)",
        """query($f: ID!) { flow(sid: $f) { executions(first: 8) { nodes {
             contactChannelAddress contactSid context } } } }""",
        survey,
    ),
    # -- one execution -------------------------------------------------------------
    Case(
        "execution: context and contact (PII)",
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             status contactChannelAddress contactSid context } }""",
        ended,
    ),
    Case(
        "execution: steps with their widgets",
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             steps(first: 5) { nodes { name fromWidget { name } toWidget { name properties } } } } }""",
        ended,
    ),
    Case(
        "execution: step.execution and step.flow stubs",
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             steps(first: 5) { nodes { execution { sid status } flow { sid friendlyName } } } } }""",
        ended,
    ),
    Case(
        "execution: up to its flow and down its other executions' widgets",
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { flow {
             executions(first: 8) { nodes { steps(first: 5) { nodes { fromWidget { name } } } } } } } }""",
        lambda facts: {"f": facts.handles.ivr_flow_sid, "e": facts.ivr_execution},
    ),
    Case(
        "execution: the revision it ran on, and that revision's flow",
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             flowRevision { revision widgets { name } flow { friendlyName testUsers } } } }""",
        ended,
    ),
    Case(
        "execution: an empty step log with a wide first",
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             steps(first: 5) { nodes { sid context } } } }""",
        lambda facts: dict(zip("fe", facts.handles.execution_without_steps, strict=True)),
        realistic=False,
    ),
    Case(
        "execution: not found",
        """query($f: ID!) { execution(flowSid: $f, sid: "FN00000000000000000000000000000000") {
             status steps { nodes { sid } } } }""",
        survey,
        errors=["NOT_FOUND"],
    ),
    # -- revisions -----------------------------------------------------------------
    Case(
        "revisions: sixty, list fields only",
        """query($f: ID!) { flow(sid: $f) { revisions(first: 60) {
             pageInfo { hasNextPage } nodes { revision status dateCreated } } } }""",
        lambda facts: {"f": facts.handles.flow_with_many_revisions_sid},
    ),
    Case(
        "revisions: each definition",
        """query($f: ID!) { flow(sid: $f) { revisions(first: 5) { nodes { revision definition } } } }""",
        survey,
    ),
    Case(
        "flowRevision by number",
        """query($f: ID!) { flow(sid: $f) {
             flowRevision(number: 2) { revision widgets { name } flow { friendlyName } } } }""",
        survey,
    ),
    Case(
        "flowRevision by both aliases",
        """query($f: ID!) { flow(sid: $f) {
             published: flowRevision(latest: LATEST_PUBLISHED) { revision status }
             latest: flowRevision(latest: LATEST_REVISION) { revision status } } }""",
        lambda facts: {"f": facts.handles.draft_pending_flow_sid},
    ),
    Case("testUsers", "query($f: ID!) { flow(sid: $f) { friendlyName testUsers } }", survey),
    # -- node(id:) -----------------------------------------------------------------
    Case(
        "node: a flow",
        "query($id: ID!) { node(id: $id) { ... on Flow { friendlyName definition testUsers } } }",
        node("Flow"),
    ),
    Case(
        "node: a revision",
        "query($id: ID!) { node(id: $id) { id ... on FlowRevision { revision definition } } }",
        node("FlowRevision"),
    ),
    Case(
        "node: an execution, with fragments for every type",
        """query($id: ID!) { node(id: $id) { id __typename
             ... on Flow { definition executions(first: 8) { nodes { sid } } }
             ... on Execution { status context steps(first: 5) { nodes { sid } } }
             ... on ExecutionStep { context fromWidget { name } } } }""",
        node("Execution"),
    ),
    Case(
        "node: a step with its context, widget and parent",
        """query($id: ID!) { node(id: $id) { ... on ExecutionStep {
             name context fromWidget { name } parentStep { sid } } } }""",
        node("ExecutionStep"),
    ),
    # -- one step --------------------------------------------------------------------
    Case(
        "executionStep: its execution and flow stubs",
        """query($f: ID!, $e: ID!, $s: ID!) { executionStep(flowSid: $f, executionSid: $e, sid: $s) {
             name execution { status contactSid } flow { friendlyName } } }""",
        step("subflow_step"),
    ),
    Case(
        "executionStep: the parent step of a subflow step",
        """query($f: ID!, $e: ID!, $s: ID!) { executionStep(flowSid: $f, executionSid: $e, sid: $s) {
             parentStepSid parentStep { sid name context } } }""",
        step("subflow_step"),
    ),
    Case(
        "executionStep: a widget the revision does not have",
        """query($f: ID!, $e: ID!, $s: ID!) { executionStep(flowSid: $f, executionSid: $e, sid: $s) {
             transitionedTo toWidget { name } } }""",
        step("step_with_missing_widget"),
    ),
    # -- the shape of the document ---------------------------------------------------
    Case(
        "named fragments, spread twice",
        """query($f: ID!) { flows(first: 5) { nodes { ...Whole } } flow(sid: $f) { ...Whole } }
           fragment Whole on Flow { friendlyName definition }""",
        survey,
    ),
    Case(
        "inline fragments on the type and on Node",
        "{ flows(first: 5) { nodes { ... on Flow { sid ... on Node { id } } } } }",
    ),
    Case(
        "aliases repeating one list",
        "{ a: flows(first: 5) { nodes { sid } } b: flows(first: 5) { nodes { friendlyName } } }",
    ),
    Case(
        "aliases repeating one context",
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             a: context b: context c: steps(first: 5) { nodes { sid } } } }""",
        ended,
    ),
    # -- cursors from an earlier response ----------------------------------------------
    Case(
        "after: the next page of flows",
        "query($a: String) { flows(first: 2, after: $a) { nodes { sid friendlyName } } }",
        lambda facts: {"a": facts.flow_cursors[-1]},
    ),
    Case(
        "after: executions across three upstream pages",
        """query($f: ID!, $a: String) { flow(sid: $f) {
             executions(first: 5, after: $a) { nodes { sid } } } }""",
        lambda facts: {"f": facts.handles.survey_flow_sid, "a": facts.execution_cursors[-1]},
    ),
    Case(
        "after: from the middle of a page",
        """query($f: ID!, $a: String) { flow(sid: $f) {
             executions(first: 1, after: $a) { nodes { sid } } } }""",
        lambda facts: {"f": facts.handles.survey_flow_sid, "a": facts.execution_cursors[0]},
    ),
    Case(
        # The cursor's page held one item; the rest is asked for as one page.
        "after: a cursor from a page of 1, then a wide first",
        """query($f: ID!, $a: String) { flow(sid: $f) {
             revisions(first: 1000, after: $a) { nodes { revision status } } } }""",
        lambda facts: {"f": facts.handles.flow_with_many_revisions_sid, "a": facts.revision_cursor},
    ),
    # -- variables: the values execution uses ---------------------------------------------
    Case(
        "variables: an operation's default first (60), none sent",
        """query($f: ID!, $n: Int = 60) { flow(sid: $f) {
             revisions(first: $n) { nodes { revision definition } } } }""",
        lambda facts: {"f": facts.handles.flow_with_many_revisions_sid},
    ),
    Case(
        "variables: 60.0 sent for an Int (GraphQL coerces it to 60)",
        """query($f: ID!, $n: Int) { flow(sid: $f) {
             revisions(first: $n) { nodes { revision definition } } } }""",
        lambda facts: {"f": facts.handles.flow_with_many_revisions_sid, "n": 60.0},
    ),
    Case(
        "variables: a default of 2 all the way down, as Relay compiles $count",
        """query($count: Int = 2) { flows(first: $count) { nodes { executions(first: $count) {
             nodes { steps(first: $count) { nodes { context } } } } } } }""",
    ),
    Case(
        "variables: a sent value over the default",
        """query($f: ID!, $n: Int = 1) { flow(sid: $f) {
             executions(first: $n) { nodes { context } } } }""",
        lambda facts: {"f": facts.handles.survey_flow_sid, "n": 8},
    ),
    Case(
        "validateFlow",
        """query($d: JSON!) { validateFlow(friendlyName: "x", status: DRAFT, definition: $d) {
             valid errors } }""",
        lambda _: {"d": DEFINITION},
    ),
]


def active(facts: Facts) -> Variables:
    flow, execution, to, from_ = facts.handles.active_execution
    return {"f": flow, "e": execution, "to": to, "from": from_}


MUTATIONS = [
    Case(
        "createExecution with its flow, steps and context",
        """mutation($f: ID!) { createExecution(flowSid: $f, to: "+15550001111",
             from: "+15550002222", parameters: {source: "matrix"}) {
             sid status contactChannelAddress flow { friendlyName }
             steps(first: 1) { nodes { name } } context } }""",
        survey,
    ),
    Case(
        "createExecution for a contact with an active one: CONFLICT",
        """mutation($f: ID!, $to: String!, $from: String!) {
             createExecution(flowSid: $f, to: $to, from: $from) { sid steps { nodes { sid } } } }""",
        active,
        errors=["CONFLICT"],
    ),
    Case(
        "endExecution with its steps, their contexts and its revision",
        """mutation($f: ID!, $e: ID!) { endExecution(flowSid: $f, sid: $e) {
             status steps(first: 1) { nodes { sid context } } flowRevision { revision } } }""",
        active,
    ),
    Case(
        "updateFlowTestUsers with the flow's fields",
        """mutation($f: ID!) { updateFlowTestUsers(sid: $f, testUsers: ["alice", "bob"]) {
             testUsers friendlyName } }""",
        survey,
    ),
    Case(
        "updateFlow with its revisions",
        """mutation($f: ID!) { updateFlow(sid: $f, status: PUBLISHED, commitMessage: "matrix") {
             revision commitMessage revisions(first: 2) { nodes { revision } } } }""",
        survey,
    ),
    Case(
        "createFlow with its widgets and test users",
        """mutation($d: JSON!) { createFlow(friendlyName: "matrix", status: DRAFT, definition: $d) {
             sid definition widgets { name } testUsers } }""",
        lambda _: {"d": DEFINITION},
    ),
    Case(
        "deleteExecution",
        "mutation($f: ID!, $e: ID!) { deleteExecution(flowSid: $f, sid: $e) }",
        ended,
    ),
]


@pytest.fixture
async def gateway(emulator: Emulator) -> AsyncIterator[Gateway]:
    async for gw in open_gateway(emulator):
        yield gw


@pytest.fixture
async def facts(gateway: Gateway, emulator: Emulator) -> Facts:
    """Ids and cursors as a client would hold them, from earlier responses."""
    handles = emulator.seeded_handles
    flow, execution, sid = handles.subflow_step
    data = await gateway.data(
        """query($f: ID!, $e: ID!, $s: ID!, $survey: ID!, $ivr: ID!, $many: ID!) {
             flows(first: 2) { edges { cursor } }
             survey: flow(sid: $survey) { id executions(first: 2) { edges { cursor } } }
             ivr: flow(sid: $ivr) { executions(first: 1) { nodes { sid } } }
             many: flow(sid: $many) { revisions(first: 1) { edges { cursor } } }
             execution(flowSid: $f, sid: $e) { id flowRevision { id } }
             executionStep(flowSid: $f, executionSid: $e, sid: $s) { id } }""",
        {
            "f": flow,
            "e": execution,
            "s": sid,
            "survey": handles.survey_flow_sid,
            "ivr": handles.ivr_flow_sid,
            "many": handles.flow_with_many_revisions_sid,
        },
    )
    return Facts(
        handles=handles,
        ivr_execution=data["ivr"]["executions"]["nodes"][0]["sid"],
        ids={
            "Flow": data["survey"]["id"],
            "FlowRevision": data["execution"]["flowRevision"]["id"],
            "Execution": data["execution"]["id"],
            "ExecutionStep": data["executionStep"]["id"],
        },
        flow_cursors=[e["cursor"] for e in data["flows"]["edges"]],
        execution_cursors=[e["cursor"] for e in data["survey"]["executions"]["edges"]],
        revision_cursor=data["many"]["revisions"]["edges"][0]["cursor"],
    )


async def measure(gateway: Gateway, case: Case, facts: Facts) -> tuple[int, int]:
    """Run a case; its (real upstream calls, estimate)."""
    result = await gateway.query(case.document, case.variables(facts))
    assert error_codes(result) == case.errors, result.get("errors")
    return gateway.total_calls, result["extensions"]["cost"]["estimatedUpstreamCalls"]


@pytest.mark.parametrize("case", QUERIES + MUTATIONS, ids=str)
async def test_the_estimate_bounds_the_real_count(
    gateway: Gateway, facts: Facts, case: Case
) -> None:
    real, estimate = await measure(gateway, case, facts)
    assert real <= estimate, f"{case}: {real} calls, estimated {estimate}: {dict(gateway.calls)}"
    if case.realistic:
        assert estimate <= 2 * max(real, 1), f"{case}: estimated {estimate} for {real} calls"


def test_the_matrix_is_wide() -> None:
    assert len(QUERIES) + len(MUTATIONS) >= 25
    assert sum(not c.realistic for c in QUERIES) >= 3


# -- X-Cost-Only and the budget ----------------------------------------------------

EXPENSIVE = """{ flows(first: 5) { nodes { executions(first: 8) { nodes {
                  context steps(first: 5) { nodes { context } } } } } } }"""


async def test_cost_only_answers_the_estimate_without_calling_upstream(
    gateway: Gateway, emulator: Emulator
) -> None:
    ran = await gateway.query(EXPENSIVE)
    estimate = ran["extensions"]["cost"]["estimatedUpstreamCalls"]
    assert gateway.total_calls > 0

    emulator.reset_counters()
    response = await gateway.http.post(
        "/graphql", json={"query": EXPENSIVE}, headers={"X-Cost-Only": "true"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["extensions"]["cost"]["estimatedUpstreamCalls"] == estimate
    assert body.get("data") is None and "errors" not in body
    assert emulator.total_requests == 0


async def execution_status(gateway: Gateway, flow: str, execution: str) -> str:
    data = await gateway.data(
        "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { status } }",
        {"f": flow, "e": execution},
    )
    status: str = data["execution"]["status"]
    return status


async def test_cost_only_never_runs_a_mutation(gateway: Gateway, emulator: Emulator) -> None:
    flow, execution, _, _ = emulator.seeded_handles.active_execution
    document = f'mutation {{ endExecution(flowSid: "{flow}", sid: "{execution}") {{ status }} }}'
    emulator.reset_counters()
    response = await gateway.http.post(
        "/graphql", json={"query": document}, headers={"X-Cost-Only": "true"}
    )
    body = response.json()
    assert body["extensions"]["cost"]["estimatedUpstreamCalls"] >= 1
    assert body.get("data") is None
    assert emulator.total_requests == 0
    assert await execution_status(gateway, flow, execution) == "ACTIVE"


async def test_an_operation_over_budget_is_refused_before_any_call(emulator: Emulator) -> None:
    async for gateway in open_gateway(emulator, max_cost=10):
        result = await gateway.query(EXPENSIVE)
        assert error_codes(result) == ["QUERY_TOO_EXPENSIVE"]
        extensions = result["errors"][0]["extensions"]
        assert extensions["budget"] == 10
        assert extensions["estimatedUpstreamCalls"] > 10
        assert result["extensions"]["cost"] == {
            "estimatedUpstreamCalls": extensions["estimatedUpstreamCalls"],
            "budget": 10,
        }
        assert result.get("data") is None
        assert gateway.total_calls == 0


async def test_the_budget_is_inclusive(emulator: Emulator) -> None:
    """An estimate equal to the budget runs; one call more is refused."""
    flow = emulator.seeded_handles.survey_flow_sid
    document = """query($f: ID!, $n: Int!) { flow(sid: $f) {
                    executions(first: $n) { nodes { context } } } }"""  # 1 + 1 + n
    async for gateway in open_gateway(emulator, max_cost=10):
        fits = await gateway.query(document, {"f": flow, "n": 8})
        assert "errors" not in fits and fits["extensions"]["cost"]["estimatedUpstreamCalls"] == 10
        assert 0 < gateway.total_calls <= 10
        over = await gateway.query(document, {"f": flow, "n": 9})
        assert error_codes(over) == ["QUERY_TOO_EXPENSIVE"]
        assert gateway.total_calls == 0


async def test_a_relay_style_default_is_priced_as_the_value_it_is(emulator: Emulator) -> None:
    """`$count: Int = 2` costs what `first: 2` costs; it was once priced as 50 and refused."""
    relay = """query($count: Int = 2) { flows(first: $count) { nodes { executions(first: $count) {
                 nodes { steps(first: $count) { nodes { context } } } } } } }"""
    literal = """{ flows(first: 2) { nodes { executions(first: 2) {
                   nodes { steps(first: 2) { nodes { context } } } } } } }"""
    async for gateway in open_gateway(emulator, max_cost=500):
        ran = await gateway.query(relay)
        assert "errors" not in ran, ran["errors"]
        priced = await gateway.query(literal)
        assert ran["extensions"] == priced["extensions"]


async def test_cost_only_with_variables_that_do_not_coerce_says_what_is_wrong(
    gateway: Gateway, emulator: Emulator
) -> None:
    emulator.reset_counters()
    response = await gateway.http.post(
        "/graphql",
        json={
            "query": "query($n: Int) { flows(first: $n) { nodes { sid } } }",
            "variables": {"n": 2.5},
        },
        headers={"X-Cost-Only": "true"},
    )
    body = response.json()
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "$n" in body["errors"][0]["message"]
    assert body.get("data") is None and "cost" not in body.get("extensions", {})
    assert emulator.total_requests == 0


async def test_a_batched_operation_whose_variables_are_not_an_object_is_bad_input(
    gateway: Gateway, emulator: Emulator
) -> None:
    # Strawberry checks `variables` for one operation, not for each of a batch;
    # a list once reached the estimator and came back INTERNAL_SERVER_ERROR.
    emulator.reset_counters()
    response = await gateway.http.post(
        "/graphql",
        json=[
            {"query": "query($n: Int) { flows(first: $n) { nodes { sid } } }", "variables": [2]},
            {"query": "{ flows(first: 1) { nodes { sid } } }"},
        ],
    )
    bad, good = response.json()
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert "variables" in bad["errors"][0]["message"]
    assert len(good["data"]["flows"]["nodes"]) == 1


async def test_a_cursor_the_estimator_cannot_read_is_charged_not_crashed_on(
    gateway: Gateway,
) -> None:
    # JSON reads 1e999 as infinity; int() of it once raised out of the estimator.
    cursor = base64.urlsafe_b64encode(b'{"l":"flows","p":{"PageSize":1e999},"i":0}').decode()
    result = await gateway.query(
        "query($a: String) { flows(first: 2, after: $a) { nodes { sid } } }", {"a": cursor}
    )
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert result["extensions"]["cost"]["estimatedUpstreamCalls"] >= 1
    assert gateway.total_calls == 0


# -- batches: one budget for the whole HTTP request ------------------------------------

#: 1 flows page, 5 executions pages and 40 contexts: 46 calls, estimated 46.
CONTEXTS = "{ flows(first: 5) { nodes { executions(first: 8) { nodes { context } } } } }"


async def post_batch(gateway: Gateway, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    gateway.emulator.reset_counters()
    response = await gateway.http.post("/graphql", json=operations)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()
    assert len(results) == len(operations)
    return results


async def test_a_batch_over_the_budget_in_all_is_refused_before_any_call(
    emulator: Emulator,
) -> None:
    async for gateway in open_gateway(emulator, max_cost=200):
        results = await post_batch(gateway, [{"query": CONTEXTS}] * 6)
        estimates = [r["extensions"]["cost"]["estimatedUpstreamCalls"] for r in results]
        assert all(e <= 200 for e in estimates) and sum(estimates) > 200
        for result in results:
            assert error_codes(result) == ["QUERY_TOO_EXPENSIVE"]
            assert result.get("data") is None
            error = result["errors"][0]
            assert "batch" in error["message"]
            assert error["extensions"]["estimatedUpstreamCalls"] == sum(estimates)
            assert error["extensions"]["budget"] == 200
        assert gateway.total_calls == 0


async def test_a_batch_over_the_budget_applies_none_of_its_mutations(emulator: Emulator) -> None:
    flow, execution, _, _ = emulator.seeded_handles.active_execution
    end = {
        "query": "mutation($f: ID!, $e: ID!) { endExecution(flowSid: $f, sid: $e) { status } }",
        "variables": {"f": flow, "e": execution},
    }
    async for gateway in open_gateway(emulator, max_cost=200):
        results = await post_batch(gateway, [end, *[{"query": CONTEXTS}] * 5])
        assert [error_codes(r) for r in results] == [["QUERY_TOO_EXPENSIVE"]] * 6
        assert gateway.total_calls == 0
        assert await execution_status(gateway, flow, execution) == "ACTIVE"


async def test_a_batch_within_the_budget_runs_every_operation(emulator: Emulator) -> None:
    async for gateway in open_gateway(emulator, max_cost=200):
        results = await post_batch(gateway, [{"query": CONTEXTS}] * 4)  # 4 x 46 = 184
        assert all("errors" not in r and r["data"]["flows"]["nodes"] for r in results)
        estimates = [r["extensions"]["cost"]["estimatedUpstreamCalls"] for r in results]
        assert 0 < gateway.total_calls <= sum(estimates) <= 200


async def test_operations_that_cannot_run_do_not_count_toward_the_batch(
    emulator: Emulator,
) -> None:
    cannot_run = [
        {"query": CONTEXTS.replace("context", "context notAField")},
        {
            "query": "query($n: Int!) { flows(first: $n) { nodes { executions(first: 8) {"
            " nodes { context } } } } }",
            "variables": {"n": "five"},
        },
        {"query": CONTEXTS + " {"},
    ]
    async for gateway in open_gateway(emulator, max_cost=60):
        *failed, ran = await post_batch(gateway, [*cannot_run, {"query": CONTEXTS}])
        assert [error_codes(r) for r in failed] == [
            ["GRAPHQL_VALIDATION_FAILED"],
            ["BAD_USER_INPUT"],
            ["GRAPHQL_PARSE_FAILED"],
        ]
        assert "errors" not in ran and ran["data"]["flows"]["nodes"]


# -- @defer and @stream ------------------------------------------------------------

INCREMENTAL = {
    "a deferred inline fragment": """{ flows(first: 5) { nodes { sid
        ... @defer { executions(first: 8) { nodes { context } } } } } }""",
    "a deferred fragment spread": """{ flows(first: 5) { nodes { sid ...Runs @defer } } }
        fragment Runs on Flow { executions(first: 8) { nodes { context } } }""",
    "nested defers": """{ flows(first: 5) { nodes { sid ... @defer(label: "runs") {
        executions(first: 8) { nodes { sid ... @defer { steps(first: 5) { nodes { context } } } } } } } } }""",
    "a streamed connection": """{ flows(first: 5) { nodes @stream(initialCount: 1) { sid
        executions(first: 8) { nodes { context } } } } }""",
    "streamed edges": """{ flows(first: 5) { edges @stream { node {
        executions(first: 8) { edges @stream(initialCount: 2) { node { context } } } } } } }""",
}


@pytest.mark.parametrize("document", INCREMENTAL.values(), ids=INCREMENTAL.keys())
async def test_deferred_and_streamed_parts_are_charged_like_the_rest(
    gateway: Gateway, document: str
) -> None:
    whole = await gateway.query(plain(document))
    expected = whole["extensions"]["cost"]["estimatedUpstreamCalls"]

    gateway.emulator.reset_counters()
    response = await gateway.http.post(
        "/graphql", json={"query": document}, headers={"Accept": MULTIPART_ACCEPT}
    )
    parts = await read_multipart(response)

    assert len(parts) > 1
    assert parts[0]["extensions"]["cost"]["estimatedUpstreamCalls"] == expected
    assert gateway.total_calls <= expected
    # A client that takes the whole answer is charged the same.
    ignored = await gateway.query(document)
    assert ignored["extensions"]["cost"]["estimatedUpstreamCalls"] == expected


async def test_a_deferred_operation_over_budget_is_refused_before_any_call(
    emulator: Emulator,
) -> None:
    deferred = """{ flows(first: 5) { nodes { sid ... @defer { executions(first: 8) { nodes {
                    context steps(first: 5) { nodes { context } } } } } } } }"""
    async for gateway in open_gateway(emulator, max_cost=10):
        emulator.reset_counters()
        response = await gateway.http.post(
            "/graphql", json={"query": deferred}, headers={"Accept": MULTIPART_ACCEPT}
        )
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert error_codes(body) == ["QUERY_TOO_EXPENSIVE"]
        assert body["extensions"]["cost"]["estimatedUpstreamCalls"] > 10
        assert gateway.total_calls == 0
