"""Execution steps, most recent first, and each step's context."""

from __future__ import annotations

from gateway.emulator import paths, render
from gateway.emulator.handlers.common import Call, Reply, find_execution, find_step
from gateway.emulator.paging import page_meta, paginate, parse_page_query


def list_steps(call: Call) -> Reply:
    _, execution = find_execution(call, "ExecutionSid")
    query = parse_page_query(call.query)
    page = paginate(
        list(reversed(execution.steps)),
        key=lambda step: (-step.sort_key[0], -step.sort_key[1]),
        row_id=lambda step: step.sid,
        query=query,
        tokens=call.account.tokens,
        scope=f"steps:{execution.sid}",
    )
    list_url = call.base_url + paths.STEPS.format(
        FlowSid=execution.flow_sid, ExecutionSid=execution.sid
    )
    return Reply(
        200,
        {
            "steps": [render.step(execution, step, call.base_url) for step in page.rows],
            "meta": page_meta(page, list_key="steps", list_url=list_url, filters=(), query=query),
        },
    )


def fetch_step(call: Call) -> Reply:
    execution, step = find_step(call, "Sid")
    return Reply(200, render.step(execution, step, call.base_url))


def fetch_step_context(call: Call) -> Reply:
    execution, step = find_step(call, "StepSid")
    return Reply(200, render.step_context_body(execution, step, call.base_url))
