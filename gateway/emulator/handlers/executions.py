"""Executions: list with filters, create (which runs the flow), fetch, end, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from gateway.emulator import paths, render, sids
from gateway.emulator.context import base_context
from gateway.emulator.dates import parse_filter_date
from gateway.emulator.errors import (
    TwilioError,
    execution_already_active,
    execution_already_ended,
    invalid_parameter,
)
from gateway.emulator.handlers.common import Call, Reply, find_execution, find_flow
from gateway.emulator.paging import page_meta, paginate, parse_page_query
from gateway.emulator.records import ExecutionRecord, FlowRecord, Json, RevisionRecord
from gateway.emulator.runner import FlowRun, RunOutcome, RunResult, RunSettings
from gateway.emulator.state import AccountState

EXECUTION_STATUSES: Final = ("active", "ended")


def list_executions(call: Call) -> Reply:
    """Most recent first; `status` (lowercase, as the spec spells it) and date filters."""
    flow = find_flow(call, "FlowSid")
    query = parse_page_query(call.query)
    filters: list[tuple[str, str]] = []
    status = call.query.get("status")
    if status is not None:
        if status not in EXECUTION_STATUSES:
            raise invalid_parameter("status", "must be one of active, ended")
        filters.append(("status", status))
    since = _date_filter(call, "DateCreatedFrom", filters)
    before = _date_filter(call, "DateCreatedTo", filters)
    rows = [
        execution
        for execution in sorted(flow.executions.values(), key=lambda e: e.sort_key, reverse=True)
        if (status is None or execution.status == status)
        and (since is None or execution.date_created >= since)
        and (before is None or execution.date_created < before)
    ]
    page = paginate(
        rows,
        key=lambda execution: (-execution.sort_key[0], -execution.sort_key[1]),
        row_id=lambda execution: execution.sid,
        query=query,
        tokens=call.account.tokens,
        scope=f"executions:{flow.sid}",
    )
    return Reply(
        200,
        {
            "executions": [render.execution(e, call.base_url) for e in page.rows],
            "meta": page_meta(
                page,
                list_key="executions",
                list_url=call.base_url + paths.EXECUTIONS.format(FlowSid=flow.sid),
                filters=filters,
                query=query,
            ),
        },
    )


def _date_filter(call: Call, name: str, filters: list[tuple[str, str]]) -> datetime | None:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = parse_filter_date(raw)
    except ValueError:
        raise invalid_parameter(
            name, "must be an ISO 8601 date-time such as 2016-07-31T09:00:00-07:00"
        ) from None
    filters.append((name, raw))
    return value


def create_execution(call: Call) -> Reply:
    """Start an execution and run it until it ends or waits for the contact."""
    flow = find_flow(call, "FlowSid")
    to = call.form.require("To")
    from_ = call.form.require("From")
    parameters = _parameters(call)
    execution, result = start_execution(
        call.account, flow, to, from_, parameters, call.now, RunSettings()
    )
    execution.steps = result.steps
    if result.outcome is not RunOutcome.WAITING:
        execution.status = "ended"
    flow.executions[execution.sid] = execution
    return Reply(201, render.execution(execution, call.base_url))


def start_execution(
    account: AccountState,
    flow: FlowRecord,
    to: str,
    from_: str,
    parameters: Json,
    now: datetime,
    settings: RunSettings,
) -> tuple[ExecutionRecord, RunResult]:
    """A new active execution (not yet in the flow, no steps yet) and the run it makes.

    Refused as Twilio refuses it: no published revision, or an execution already
    active for the contact."""
    revision = _revision_to_run(flow, to)
    conflict = flow.active_execution_for(to, from_)
    if conflict is not None:
        raise execution_already_active(conflict.sid)
    initiated_by = account.sid_factory.new(sids.REQUEST)
    context = base_context(
        trigger={"request": {"parameters": parameters}},
        parameters=parameters,
        contact_address=to,
        channel_address=from_,
    )
    execution = ExecutionRecord(
        sid=account.sid_factory.new(sids.EXECUTION),
        account_sid=account.account_sid,
        flow_sid=flow.sid,
        contact_channel_address=to,
        channel_address=from_,
        contact_sid=account.contact_sid(flow.sid, to),
        flow_version=revision.revision,
        status="active",
        initiated_by=initiated_by,
        date_created=now,
        date_updated=now,
        seq=account.next_seq(),
        base_context=context,
    )
    result = FlowRun(
        revision.compiled(),
        base_context=context,
        entry_event="incomingRequest",
        started_at=now,
        rng=account.rng,
        sid_factory=account.sid_factory,
        next_seq=account.next_seq,
        subflows=account.resolve_subflow,
        settings=settings,
    ).run()
    return execution, result


def _parameters(call: Call) -> Json:
    raw = call.form.get("Parameters")
    if raw is None or not raw.strip():
        return {}
    value = call.form.json("Parameters", required=True)
    if not isinstance(value, dict):
        raise invalid_parameter("Parameters", "must be a JSON object")
    return value


def _revision_to_run(flow: FlowRecord, to: str) -> RevisionRecord:
    """The latest published revision; a test user runs the latest revision, draft or not."""
    if to in flow.test_users:
        return flow.latest
    published = flow.latest_published()
    if published is None:
        raise TwilioError(
            400,
            20001,
            f"Flow {flow.sid} has no published revision. Publish the flow, "
            "or add the contact to its TestUsers to run the draft",
        )
    return published


def fetch_execution(call: Call) -> Reply:
    _, execution = find_execution(call, "Sid")
    return Reply(200, render.execution(execution, call.base_url))


def update_execution(call: Call) -> Reply:
    """End an active execution; ending one that has ended is a conflict (20409)."""
    _, execution = find_execution(call, "Sid")
    call.form.choice("Status", ("ended",), required=True)
    if execution.status == "ended":
        raise execution_already_ended(execution.sid)
    execution.status = "ended"
    execution.date_updated = call.now
    return Reply(200, render.execution(execution, call.base_url))


def delete_execution(call: Call) -> Reply:
    """Delete an execution with its steps and contexts."""
    flow, execution = find_execution(call, "Sid")
    del flow.executions[execution.sid]
    return Reply(204)


def fetch_execution_context(call: Call) -> Reply:
    _, execution = find_execution(call, "ExecutionSid")
    return Reply(200, render.execution_context_body(execution, call.base_url))
