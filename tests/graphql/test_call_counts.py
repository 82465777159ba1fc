"""The measure of the gateway: exactly the upstream calls a query needs, no more.

Each test runs one query against the emulator and compares the emulator's
request counters with the minimum the Studio API allows for that query.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from typing import Any

from gateway.emulator import Emulator
from tests.support import Gateway, paused, until

FLOWS = "GET /v2/Flows"
FLOW = "GET /v2/Flows/{Sid}"
REVISION = "GET /v2/Flows/{Sid}/Revisions/{Revision}"
REVISIONS = "GET /v2/Flows/{Sid}/Revisions"
EXECUTIONS = "GET /v2/Flows/{FlowSid}/Executions"
EXECUTION = "GET /v2/Flows/{FlowSid}/Executions/{Sid}"
EXECUTION_CONTEXT = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context"
STEPS = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
STEP = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{Sid}"
STEP_CONTEXT = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context"
TEST_USERS = "GET /v2/Flows/{Sid}/TestUsers"


async def some_execution(gateway: Gateway, with_steps: bool = True) -> tuple[str, str]:
    data = await gateway.data(
        "{ flows { nodes { sid executions(first: 20) { nodes { sid steps(first: 1) { nodes { sid } } } } } } }"
    )
    for flow in data["flows"]["nodes"]:
        for execution in flow["executions"]["nodes"]:
            if bool(execution["steps"]["nodes"]) == with_steps:
                return flow["sid"], execution["sid"]
    raise AssertionError("the seeded account has no such execution")


async def test_a_flows_page_with_list_fields_is_one_call(gateway: Gateway) -> None:
    data = await gateway.data(
        "{ flows(first: 50) { nodes { id sid friendlyName status revision dateCreated } } }"
    )
    assert len(data["flows"]["nodes"]) >= 3
    assert gateway.calls == Counter({FLOWS: 1})


async def test_a_definition_after_the_list_fetches_each_flow_once(gateway: Gateway) -> None:
    data = await gateway.data(
        """{ flows { nodes { sid friendlyName definition widgets { name } commitMessage } } }"""
    )
    flows = data["flows"]["nodes"]
    assert all(f["definition"] is not None for f in flows)
    assert all(f["widgets"] for f in flows)
    assert gateway.calls == Counter({FLOWS: 1, FLOW: len(flows)})


async def test_flows_executions_steps_contexts_cost_one_call_per_distinct_thing(
    gateway: Gateway,
) -> None:
    data = await gateway.data(
        """{ flows { nodes { sid executions(first: 2) { nodes { sid
               steps(first: 3) { nodes { sid name context } } } } } } }"""
    )
    flows = data["flows"]["nodes"]
    executions = [e for f in flows for e in f["executions"]["nodes"]]
    steps = [s for e in executions for s in e["steps"]["nodes"]]
    assert steps and all(s["context"] is not None for s in steps)
    assert gateway.calls == Counter(
        {
            FLOWS: 1,
            EXECUTIONS: len(flows),
            STEPS: len(executions),
            STEP_CONTEXT: len(steps),
        }
    )


async def test_fields_the_parent_holds_cost_nothing(gateway: Gateway) -> None:
    flow_sid, execution_sid = await some_execution(gateway)
    data = await gateway.data(
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
               sid flowSid status flow { sid id } } }""",
        {"f": flow_sid, "e": execution_sid},
    )
    assert data["execution"]["flow"]["sid"] == flow_sid == data["execution"]["flowSid"]
    assert gateway.calls == Counter({EXECUTION: 1})


async def test_the_same_execution_by_two_paths_is_fetched_once(gateway: Gateway) -> None:
    flow_sid, execution_sid = await some_execution(gateway)
    data = await gateway.data(
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
               status contactSid
               steps { nodes { sid execution { sid status flowVersion } parentStep { sid } } } } }""",
        {"f": flow_sid, "e": execution_sid},
    )
    steps = data["execution"]["steps"]["nodes"]
    assert steps and all(s["execution"]["status"] == data["execution"]["status"] for s in steps)
    assert gateway.calls == Counter({EXECUTION: 1, STEPS: 1})


async def test_an_item_a_page_returned_is_never_fetched_again(gateway: Gateway) -> None:
    flow_sid, _ = await some_execution(gateway)
    data = await gateway.data(
        """query($f: ID!) { flow(sid: $f) { executions(first: 50) { nodes { sid
               steps { nodes { sid execution { contactSid initiatedBy } } } } } } }""",
        {"f": flow_sid},
    )
    executions = data["flow"]["executions"]["nodes"]
    assert gateway.calls == Counter({FLOW: 1, EXECUTIONS: 1, STEPS: len(executions)})


async def test_the_same_flow_asked_for_from_many_steps_is_fetched_once(gateway: Gateway) -> None:
    flow_sid, execution_sid = await some_execution(gateway)
    data = await gateway.data(
        """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
               steps { nodes { flow { friendlyName definition } } } } }""",
        {"f": flow_sid, "e": execution_sid},
    )
    names = {s["flow"]["friendlyName"] for s in data["execution"]["steps"]["nodes"]}
    assert len(names) == 1
    assert gateway.calls == Counter({EXECUTION: 1, STEPS: 1, FLOW: 1})


async def test_twenty_executions_with_their_steps(gateway: Gateway, emulator: Emulator) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    data = await gateway.data(
        """query($f: ID!) { flow(sid: $f) { executions(first: 20) { nodes { sid status
               steps(first: 50) { nodes { sid name transitionedFrom transitionedTo } } } } } }""",
        {"f": flow_sid},
    )
    executions = data["flow"]["executions"]["nodes"]
    assert len(executions) == min(
        20, len(emulator.account(emulator.account_sid).flows[flow_sid].executions)
    )
    assert gateway.calls == Counter({FLOW: 1, EXECUTIONS: 1, STEPS: len(executions)})


async def test_step_widgets_fetch_each_revision_once(gateway: Gateway) -> None:
    data = await gateway.data(
        """{ flows { nodes { sid executions(first: 10) { nodes { flowVersion
               steps { nodes { fromWidget { name type } toWidget { name transitions { event next } } } }
           } } } } }"""
    )
    flows = data["flows"]["nodes"]
    executions = [(f["sid"], e) for f in flows for e in f["executions"]["nodes"]]
    with_steps = [(sid, e) for sid, e in executions if e["steps"]["nodes"]]
    revisions = {(sid, e["flowVersion"]) for sid, e in with_steps}
    assert len({v for _, v in revisions}) > 1, "the seed should spread runs across revisions"
    widgets = [s["fromWidget"] for _, e in with_steps for s in e["steps"]["nodes"]]
    assert any(w is not None for w in widgets)
    assert gateway.calls == Counter(
        {FLOWS: 1, EXECUTIONS: len(flows), STEPS: len(executions), REVISION: len(revisions)}
    )


async def test_the_revision_an_execution_ran_on_and_the_flow_revision_by_number_share_a_fetch(
    gateway: Gateway,
) -> None:
    flow_sid, execution_sid = await some_execution(gateway)
    version = (
        await gateway.data(
            "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { flowVersion } }",
            {"f": flow_sid, "e": execution_sid},
        )
    )["execution"]["flowVersion"]
    data = await gateway.data(
        """query($f: ID!, $e: ID!, $n: Int!) {
             execution(flowSid: $f, sid: $e) { flowRevision { revision definition } }
             flow(sid: $f) { flowRevision(number: $n) { revision widgets { name } } } }""",
        {"f": flow_sid, "e": execution_sid, "n": version},
    )
    assert data["execution"]["flowRevision"]["revision"] == version
    assert data["flow"]["flowRevision"]["revision"] == version
    assert gateway.calls == Counter({EXECUTION: 1, FLOW: 1, REVISION: 1})


EXECUTIONS_PAGE = """query($f: ID!, $n: Int!, $a: String) { flow(sid: $f) {
                       executions(first: $n, after: $a) {
                         pageInfo { hasNextPage endCursor } edges { cursor node { sid } } } } }"""


async def survey_executions(gateway: Gateway, emulator: Emulator, **variables: Any) -> Any:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    data = await gateway.data(EXECUTIONS_PAGE, {"f": flow_sid, **variables})
    return data["flow"]["executions"]


def sids(connection: Any) -> list[str]:
    return [edge["node"]["sid"] for edge in connection["edges"]]


async def test_first_beyond_a_page_after_a_cursor_is_one_page_of_what_is_needed(
    gateway: Gateway, emulator: Emulator
) -> None:
    everything = await survey_executions(gateway, emulator, n=1000)
    all_sids = sids(everything)
    assert len(all_sids) >= 8 and not everything["pageInfo"]["hasNextPage"]

    start = await survey_executions(gateway, emulator, n=2)
    assert start["pageInfo"]["hasNextPage"]
    rest = await survey_executions(gateway, emulator, n=5, a=start["pageInfo"]["endCursor"])

    assert sids(start) + sids(rest) == all_sids[:7]
    assert rest["pageInfo"]["hasNextPage"]
    # The cursor came from a page of 2, but Studio's PageToken names a row: the
    # five items are one page of 5, not pages of 2 (2 + 2 + 1, three calls).
    assert gateway.calls == Counter({FLOW: 1, EXECUTIONS: 1})


async def test_a_cursor_in_the_middle_of_a_page_resumes_after_its_item(
    gateway: Gateway, emulator: Emulator
) -> None:
    all_sids = sids(await survey_executions(gateway, emulator, n=1000))
    start = await survey_executions(gateway, emulator, n=3)
    rest = await survey_executions(gateway, emulator, n=5, a=start["edges"][0]["cursor"])
    assert sids(rest) == all_sids[1:6]
    # The first page again, asked for at 1 + 5 items.
    assert gateway.calls == Counter({FLOW: 1, EXECUTIONS: 1})
    # Its cursors resume as well as the first request's did.
    more = await survey_executions(gateway, emulator, n=2, a=rest["edges"][1]["cursor"])
    assert sids(more) == all_sids[3:5]


async def test_a_wide_first_after_a_one_item_cursor_is_one_call(
    gateway: Gateway, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.flow_with_many_revisions_sid
    query = """query($f: ID!, $n: Int!, $a: String) { flow(sid: $f) {
                 revisions(first: $n, after: $a) { pageInfo { endCursor } nodes { revision } } } }"""
    one = (await gateway.data(query, {"f": flow_sid, "n": 1}))["flow"]["revisions"]
    rest = await gateway.data(query, {"f": flow_sid, "n": 1000, "a": one["pageInfo"]["endCursor"]})
    revisions = [one["nodes"][0]["revision"]] + [
        r["revision"] for r in rest["flow"]["revisions"]["nodes"]
    ]
    assert len(revisions) == len(set(revisions)) >= 60
    # Not one page of 1 per revision (the first request's page size): one page.
    assert gateway.calls == Counter({FLOW: 1, REVISIONS: 1})


async def test_a_cursor_naming_its_page_by_number_keeps_that_page_then_asks_for_the_rest(
    gateway: Gateway, emulator: Emulator
) -> None:
    # Page 1 of size 2, without a PageToken, starts 2 rows in: asked for at
    # another size it would start elsewhere. Studio's next pages have tokens.
    flow_sid = emulator.seeded_handles.survey_flow_sid
    all_sids = sids(await survey_executions(gateway, emulator, n=1000))
    raw = json.dumps({"l": f"executions:{flow_sid}", "p": {"PageSize": "2", "Page": "1"}, "i": -1})
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    rest = await survey_executions(gateway, emulator, n=5, a=cursor)
    assert sids(rest) == all_sids[2:7]
    assert gateway.calls == Counter({FLOW: 1, EXECUTIONS: 2})


async def test_node_by_id_costs_one_call_for_every_type(gateway: Gateway) -> None:
    flow_sid, execution_sid = await some_execution(gateway)
    ids = (
        await gateway.data(
            """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
             id flow { id } flowRevision { id } steps(first: 1) { nodes { id } } } }""",
            {"f": flow_sid, "e": execution_sid},
        )
    )["execution"]
    expected = {
        ids["flow"]["id"]: ("Flow", FLOW),
        ids["flowRevision"]["id"]: ("FlowRevision", REVISION),
        ids["id"]: ("Execution", EXECUTION),
        ids["steps"]["nodes"][0]["id"]: ("ExecutionStep", STEP),
    }
    for global_id, (type_name, route) in expected.items():
        data = await gateway.data(
            "query($id: ID!) { node(id: $id) { __typename id } }", {"id": global_id}
        )
        assert data["node"] == {"__typename": type_name, "id": global_id}
        assert gateway.calls == Counter({route: 1})


async def test_context_and_test_users_are_one_call_each(gateway: Gateway) -> None:
    flow_sid, execution_sid = await some_execution(gateway)
    data = await gateway.data(
        """query($f: ID!, $e: ID!) {
             execution(flowSid: $f, sid: $e) { context }
             flow(sid: $f) { testUsers } }""",
        {"f": flow_sid, "e": execution_sid},
    )
    assert isinstance(data["execution"]["context"], dict)
    assert isinstance(data["flow"]["testUsers"], list)
    assert gateway.calls == Counter({EXECUTION: 1, EXECUTION_CONTEXT: 1, FLOW: 1, TEST_USERS: 1})


async def test_the_same_list_asked_for_twice_is_one_page_call(gateway: Gateway) -> None:
    data = await gateway.data(
        "{ a: flows(first: 5) { nodes { sid } } b: flows(first: 5) { nodes { friendlyName } } }"
    )
    assert len(data["a"]["nodes"]) == len(data["b"]["nodes"])
    assert gateway.calls == Counter({FLOWS: 1})


async def test_revisions_list_then_definitions_fetch_each_revision_once(
    gateway: Gateway, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.flow_with_many_revisions_sid
    data = await gateway.data(
        """query($f: ID!) { flow(sid: $f) { revisions { nodes { revision status definition } } } }""",
        {"f": flow_sid},
    )
    revisions = data["flow"]["revisions"]["nodes"]
    assert len(revisions) >= 2 and all(r["definition"] for r in revisions)
    assert gateway.calls == Counter({FLOW: 1, REVISIONS: 1, REVISION: len(revisions)})


async def test_a_flows_lists_go_out_beside_the_flow_itself(
    gateway: Gateway, emulator: Emulator
) -> None:
    # Nothing a flow's lists need comes from the flow's record: one round trip, not two
    # (once Twilio has accepted the credentials: a guessed token reads nothing ahead).
    flow_sid = emulator.seeded_handles.survey_flow_sid
    await gateway.data("{ flows(first: 1) { nodes { sid } } }")
    emulator.reset_counters()
    with paused(emulator):
        query = asyncio.ensure_future(
            gateway.data(
                """query($f: ID!) { flow(sid: $f) { friendlyName testUsers
                     executions(first: 3, status: ENDED) { nodes { sid } }
                     revisions(first: 2) { nodes { revision } } } }""",
                {"f": flow_sid},
            )
        )
        await until(lambda: emulator.in_flight == 4)  # all four wait on Twilio together
    data = await query
    assert data["flow"]["executions"]["nodes"]
    assert gateway.calls == Counter({FLOW: 1, TEST_USERS: 1, EXECUTIONS: 1, REVISIONS: 1})
    assert emulator.max_in_flight == 4


async def test_a_missing_flow_with_lists_selected_is_still_one_clean_not_found(
    gateway: Gateway,
) -> None:
    result = await gateway.query(
        """{ flow(sid: "FW00000000000000000000000000000000") { sid executions { nodes { sid } } } }"""
    )
    assert result["data"]["flow"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["NOT_FOUND"]
