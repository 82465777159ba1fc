"""Flows, flow validation and test users."""

from __future__ import annotations

from typing import Any, Final

from gateway.emulator import paths, render, sids
from gateway.emulator.definition import validate_definition
from gateway.emulator.errors import invalid_definition
from gateway.emulator.forms import Form
from gateway.emulator.handlers.common import Call, Reply, api_author, find_flow
from gateway.emulator.paging import page_meta, paginate, parse_page_query
from gateway.emulator.records import FlowRecord, Json, RevisionRecord

FLOW_STATUSES: Final = ("draft", "published")


def _definition(form: Form, *, required: bool) -> Json | None:
    definition: Any = form.json("Definition", required=required)
    if definition is None and not required:
        return None
    failures = validate_definition(definition)
    if failures:
        raise invalid_definition(failures)
    return dict(definition)


def list_flows(call: Call) -> Reply:
    query = parse_page_query(call.query)
    rows = sorted(call.account.flows.values(), key=lambda flow: flow.sort_key)
    page = paginate(
        rows,
        key=lambda flow: flow.sort_key,
        row_id=lambda flow: flow.sid,
        query=query,
        tokens=call.account.tokens,
        scope="flows",
    )
    return Reply(
        200,
        {
            "flows": [render.flow(flow, call.base_url, full=False) for flow in page.rows],
            "meta": page_meta(
                page,
                list_key="flows",
                list_url=call.base_url + paths.FLOWS,
                filters=(),
                query=query,
            ),
        },
    )


def create_flow(call: Call) -> Reply:
    name = call.form.require("FriendlyName")
    status = call.form.choice("Status", FLOW_STATUSES, required=True)
    definition = _definition(call.form, required=True)
    assert status is not None and definition is not None
    account = call.account
    revision = RevisionRecord(
        revision=1,
        friendly_name=name,
        definition=definition,
        status=status,
        commit_message=call.form.get("CommitMessage"),
        author_sid=api_author(account),
        date_created=call.now,
    )
    flow = FlowRecord(
        sid=account.sid_factory.new(sids.FLOW),
        account_sid=account.account_sid,
        date_created=call.now,
        seq=account.next_seq(),
        revisions=[revision],
    )
    account.flows[flow.sid] = flow
    return Reply(201, render.flow(flow, call.base_url))


def fetch_flow(call: Call) -> Reply:
    return Reply(200, render.flow(find_flow(call), call.base_url))


def update_flow(call: Call) -> Reply:
    """Save a new revision when the definition, status or name changes."""
    flow = find_flow(call)
    status = call.form.choice("Status", FLOW_STATUSES, required=True)
    assert status is not None
    definition = _definition(call.form, required=False)
    latest = flow.latest
    name = call.form.get("FriendlyName") or latest.friendly_name
    new_definition = definition if definition is not None else latest.definition
    if (new_definition, status, name) != (latest.definition, latest.status, latest.friendly_name):
        flow.revisions.append(
            RevisionRecord(
                revision=latest.revision + 1,
                friendly_name=name,
                definition=new_definition,
                status=status,
                commit_message=call.form.get("CommitMessage"),
                author_sid=api_author(call.account),
                date_created=call.now,
            )
        )
    flow.date_updated = call.now
    return Reply(200, render.flow(flow, call.base_url))


def delete_flow(call: Call) -> Reply:
    """Delete a flow with its revisions, executions and steps."""
    flow = find_flow(call)
    del call.account.flows[flow.sid]
    for key in [key for key in call.account.contacts if key[0] == flow.sid]:
        del call.account.contacts[key]
    return Reply(204)


def validate_flow(call: Call) -> Reply:
    """Check a flow as create would, without saving anything."""
    call.form.require("FriendlyName")
    call.form.choice("Status", FLOW_STATUSES, required=True)
    _definition(call.form, required=True)
    return Reply(200, {"valid": True})


def fetch_test_users(call: Call) -> Reply:
    return Reply(200, render.test_users(find_flow(call), call.base_url))


def update_test_users(call: Call) -> Reply:
    flow = find_flow(call)
    users = [user for user in call.form.get_all("TestUsers") if user]
    if not users:
        call.form.require("TestUsers")
    flow.test_users = list(dict.fromkeys(users))
    return Reply(200, render.test_users(flow, call.base_url))
