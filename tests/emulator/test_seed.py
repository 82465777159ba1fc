"""The seeded account: reproducible, realistic, and holding what the handles promise."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, Emulator, FlowRecord, render
from gateway.emulator.definition import validate_definition
from tests.support import SEEDED_AT

from . import contract

ADDRESS = re.compile(r"^(whatsapp:\+\d{8,15}|\+\d{8,15}|client:\w+)$")
REQUIRED_WIDGETS = {
    "trigger",
    "send-and-wait-for-reply",
    "split-based-on",
    "make-http-request",
    "run-function",
    "send-message",
    "set-variables",
    "run-subflow",
    "say-play",
    "gather-input-on-call",
}


def snapshot(emulator: Emulator) -> list[Any]:
    """Everything the account would serve, rendered."""
    out: list[Any] = []
    for flow in emulator.account(emulator.account_sid).flows.values():
        out.append(render.flow(flow, ""))
        out.extend(render.revision(flow, rev, "") for rev in flow.revisions)
        for execution in flow.executions.values():
            out.append(render.execution(execution, ""))
            out.append(render.execution_context_body(execution, ""))
            for step in execution.steps:
                out.append(render.step(execution, step, ""))
                out.append(render.step_context_body(execution, step, ""))
    return out


def flows(emulator: Emulator) -> list[FlowRecord]:
    return list(emulator.account(DEMO_ACCOUNT_SID).flows.values())


def test_the_same_seed_gives_the_same_account() -> None:
    first = Emulator.seeded(seed=11, now=SEEDED_AT)
    second = Emulator.seeded(seed=11, now=SEEDED_AT)
    other = Emulator.seeded(seed=12, now=SEEDED_AT)

    assert snapshot(first) == snapshot(second)
    assert snapshot(first) != snapshot(other)
    assert first.seeded_handles == second.seeded_handles


def test_sizes_are_parameters() -> None:
    emulator = Emulator.seeded(
        seed=1, flows=9, executions_per_flow=4, steps_per_execution=3, now=SEEDED_AT
    )

    assert len(flows(emulator)) == 9
    assert all(len(flow.executions) == 4 for flow in flows(emulator))
    assert all(len(e.steps) <= 3 for flow in flows(emulator) for e in flow.executions.values())
    names = [flow.friendly_name for flow in flows(emulator)]
    assert len(set(names)) == 9 and "SMS Customer Survey #2" in names


def test_a_large_account_seeds_quickly_enough_to_build_in_a_test() -> None:
    emulator = Emulator.seeded(seed=2, flows=50, executions_per_flow=200, steps_per_execution=10)

    executions = [e for flow in flows(emulator) for e in flow.executions.values()]
    assert len(executions) == 50 * 200
    assert sum(len(e.steps) for e in executions) > 50_000


def test_seeded_flows_look_like_real_studio_flows(emulator: Emulator) -> None:
    seeded = flows(emulator)
    widget_types = {
        state["type"]
        for flow in seeded
        for rev in flow.revisions
        for state in rev.definition["states"]
    }

    assert REQUIRED_WIDGETS <= widget_types
    assert all(
        validate_definition(rev.definition) == [] for flow in seeded for rev in flow.revisions
    )
    assert all(len(flow.revisions) >= 3 for flow in seeded)
    assert all(flow.revisions[0].definition != flow.latest.definition for flow in seeded)
    assert any(not flow.friendly_name.isascii() for flow in seeded)
    assert any(flow.date_updated is None for flow in seeded) or any(
        rev.date_updated is None for flow in seeded for rev in flow.revisions
    )


def test_seeded_executions_spread_over_recent_weeks_and_revisions(emulator: Emulator) -> None:
    executions = [e for flow in flows(emulator) for e in flow.executions.values()]
    dates = [e.date_created for e in executions]

    assert min(dates) >= SEEDED_AT - timedelta(days=26) and max(dates) <= SEEDED_AT
    assert max(dates) - min(dates) > timedelta(days=15)
    assert {e.status for e in executions} == {"active", "ended"}
    assert any(e.date_updated is None for e in executions)
    assert all(ADDRESS.match(e.contact_channel_address) for e in executions)
    for flow in flows(emulator):
        published = {rev.revision for rev in flow.revisions if rev.status == "published"}
        versions = {e.flow_version for e in flow.executions.values()}
        assert versions <= published
    ivr = emulator.account(DEMO_ACCOUNT_SID).flows[emulator.seeded_handles.ivr_flow_sid]
    assert len({e.flow_version for e in ivr.executions.values()}) > 3


def test_seeded_steps_chain_widget_to_widget(emulator: Emulator) -> None:
    handles = emulator.seeded_handles
    account = emulator.account(DEMO_ACCOUNT_SID)
    for flow in account.flows.values():
        for execution in flow.executions.values():
            if execution.sid == handles.step_with_missing_widget.execution_sid:
                continue
            top = [s for s in execution.steps if s.parent_step_sid is None]
            widgets = flow.revisions[execution.flow_version - 1].compiled().widgets
            for earlier, later in itertools.pairwise(top):
                assert later.transitioned_from == earlier.transitioned_to
                assert later.date_created >= earlier.date_created
            for step in top:
                assert widgets[step.transitioned_from].type == step.type
            if top:
                assert top[0].transitioned_from == "Trigger"


def test_the_handles_name_what_they_promise(emulator: Emulator) -> None:
    handles = emulator.seeded_handles
    account = emulator.account(DEMO_ACCOUNT_SID)

    flow_sid, execution_sid = handles.execution_without_steps
    assert account.flows[flow_sid].executions[execution_sid].steps == []

    flow_sid, execution_sid, step_sid = handles.subflow_step
    execution = account.flows[flow_sid].executions[execution_sid]
    step = execution.step(step_sid)
    assert step is not None and step.parent_step_sid is not None
    assert execution.step(step.parent_step_sid) is not None

    flow_sid, execution_sid, step_sid = handles.step_with_missing_widget
    execution = account.flows[flow_sid].executions[execution_sid]
    step = execution.step(step_sid)
    ran_on = account.flows[flow_sid].revisions[execution.flow_version - 1].definition
    assert step is not None
    assert step.transitioned_to not in {state["name"] for state in ran_on["states"]}

    flow_sid, execution_sid, to, from_ = handles.active_execution
    active = account.flows[flow_sid].executions[execution_sid]
    assert (active.status, active.contact_channel_address, active.channel_address) == (
        "active",
        to,
        from_,
    )

    flow_sid, execution_sid = handles.ended_execution
    assert account.flows[flow_sid].executions[execution_sid].status == "ended"

    assert (
        account.flows[handles.non_ascii_flow_sid].friendly_name
        == "Encuesta de satisfacción \u2013 ñandú"
    )
    assert len(account.flows[handles.flow_with_many_revisions_sid].revisions) > 50
    pending = account.flows[handles.draft_pending_flow_sid]
    published = pending.latest_published()
    assert (
        pending.status == "draft"
        and published is not None
        and published.revision < pending.revision
    )
    assert account.flows[handles.survey_flow_sid].friendly_name == "SMS Customer Survey"
    assert account.flows[handles.subflow_flow_sid].latest.definition["states"][0]["transitions"][
        4
    ] == {
        "event": "incomingParent",
        "next": "send_code",
    }


def test_handles_exist_from_five_flows_up() -> None:
    small = Emulator.seeded(seed=7, flows=5, executions_per_flow=8, steps_per_execution=5)
    assert small.seeded_handles.active_execution.to


def test_too_small_an_account_says_why_it_has_no_handles() -> None:
    tiny = Emulator.seeded(flows=2)
    with pytest.raises(LookupError, match="flows >= 5"):
        _ = tiny.seeded_handles


async def test_the_seeded_step_with_a_missing_widget_is_served(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid, execution_sid, step_sid = emulator.seeded_handles.step_with_missing_widget
    url = f"/v2/Flows/{flow_sid}/Executions/{execution_sid}/Steps/{step_sid}"
    step = contract.check(await client.get(url))
    context = contract.check(await client.get(f"{url}/Context"))

    assert step["transitioned_to"] not in context["context"]["widgets"]
    assert context["step_sid"] == step_sid
