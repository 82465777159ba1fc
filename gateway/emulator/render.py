"""Records as Twilio's JSON: exactly the spec's fields, URLs on the emulator's host."""

from __future__ import annotations

from typing import Any

from gateway.emulator import paths
from gateway.emulator.context import execution_context, step_context
from gateway.emulator.dates import format_date
from gateway.emulator.records import ExecutionRecord, FlowRecord, RevisionRecord, StepRecord

Body = dict[str, Any]


def url(base: str, template: str, **params: str | int) -> str:
    return base + template.format(**params)


def webhook_url(flow: FlowRecord) -> str:
    return f"https://webhooks.twilio.com/v1/Accounts/{flow.account_sid}/Flows/{flow.sid}"


def flow(record: FlowRecord, base: str, *, full: bool = True) -> Body:
    """A flow; the list leaves out the definition and validation, as Twilio's does."""
    latest = record.latest
    return {
        "sid": record.sid,
        "account_sid": record.account_sid,
        "author_sid": latest.author_sid,
        "friendly_name": latest.friendly_name,
        "definition": latest.definition if full else None,
        "status": latest.status,
        "revision": latest.revision,
        "commit_message": latest.commit_message,
        "valid": True if full else None,
        "errors": [] if full else None,
        "warnings": [] if full else None,
        "date_created": format_date(record.date_created),
        "date_updated": format_date(record.date_updated),
        "webhook_url": webhook_url(record),
        "url": url(base, paths.FLOW, Sid=record.sid),
        "links": {
            "test_users": url(base, paths.TEST_USERS, Sid=record.sid),
            "revisions": url(base, paths.REVISIONS, Sid=record.sid),
            "executions": url(base, paths.EXECUTIONS, FlowSid=record.sid),
        },
    }


def revision(record: FlowRecord, rev: RevisionRecord, base: str, *, full: bool = True) -> Body:
    return {
        "sid": record.sid,
        "account_sid": record.account_sid,
        "author_sid": rev.author_sid,
        "friendly_name": rev.friendly_name,
        "definition": rev.definition if full else None,
        "status": rev.status,
        "revision": rev.revision,
        "commit_message": rev.commit_message,
        "valid": True if full else None,
        "errors": [] if full else None,
        "date_created": format_date(rev.date_created),
        "date_updated": format_date(rev.date_updated),
        "url": url(base, paths.REVISION, Sid=record.sid, Revision=rev.revision),
    }


def test_users(record: FlowRecord, base: str) -> Body:
    return {
        "sid": record.sid,
        "test_users": list(record.test_users),
        "url": url(base, paths.TEST_USERS, Sid=record.sid),
    }


def execution(record: ExecutionRecord, base: str) -> Body:
    """An execution; like Twilio it carries an empty `context` (see /Context)."""
    return {
        "sid": record.sid,
        "account_sid": record.account_sid,
        "flow_sid": record.flow_sid,
        "contact_channel_address": record.contact_channel_address,
        "contact_sid": record.contact_sid,
        "flow_version": record.flow_version,
        "context": {},
        "status": record.status,
        "date_created": format_date(record.date_created),
        "date_updated": format_date(record.date_updated),
        "initiated_by": record.initiated_by,
        "url": url(base, paths.EXECUTION, FlowSid=record.flow_sid, Sid=record.sid),
        "links": {
            "steps": url(base, paths.STEPS, FlowSid=record.flow_sid, ExecutionSid=record.sid),
            "execution_context": url(
                base, paths.EXECUTION_CONTEXT, FlowSid=record.flow_sid, ExecutionSid=record.sid
            ),
        },
    }


def execution_context_body(record: ExecutionRecord, base: str) -> Body:
    return {
        "account_sid": record.account_sid,
        "context": execution_context(record),
        "flow_sid": record.flow_sid,
        "execution_sid": record.sid,
        "url": url(base, paths.EXECUTION_CONTEXT, FlowSid=record.flow_sid, ExecutionSid=record.sid),
    }


def step(record: ExecutionRecord, item: StepRecord, base: str) -> Body:
    """A step; like Twilio it carries an empty `context` (see its /Context)."""
    ids = {"FlowSid": record.flow_sid, "ExecutionSid": record.sid}
    return {
        "sid": item.sid,
        "account_sid": record.account_sid,
        "flow_sid": record.flow_sid,
        "execution_sid": record.sid,
        "parent_step_sid": item.parent_step_sid,
        "name": item.name,
        "context": {},
        "transitioned_from": item.transitioned_from,
        "transitioned_to": item.transitioned_to,
        "type": item.type,
        "date_created": format_date(item.date_created),
        "date_updated": format_date(item.date_updated),
        "url": url(base, paths.STEP, Sid=item.sid, **ids),
        "links": {"step_context": url(base, paths.STEP_CONTEXT, StepSid=item.sid, **ids)},
    }


def step_context_body(record: ExecutionRecord, item: StepRecord, base: str) -> Body:
    return {
        "account_sid": record.account_sid,
        "context": step_context(record, item),
        "execution_sid": record.sid,
        "flow_sid": record.flow_sid,
        "step_sid": item.sid,
        "url": url(
            base,
            paths.STEP_CONTEXT,
            FlowSid=record.flow_sid,
            ExecutionSid=record.sid,
            StepSid=item.sid,
        ),
    }
