"""Twilio Event Streams as a webhook sink receives it: CloudEvents, signed.

The emulator's own writing of Studio's three event types (FACTS.md section
1.2: Twilio's field names, dates with milliseconds) and of Twilio's signature
of a JSON webhook (section 3: `bodySHA256` added to the URL's query, base64
HMAC-SHA1 of that URL keyed by the Auth Token). Nothing here is shared with
the gateway: a bug cannot hide by living on both sides of the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any, Final

from gateway.emulator.records import ExecutionRecord, StepRecord

EXECUTION_STARTED: Final = "com.twilio.studio.flow.execution.started"
EXECUTION_ENDED: Final = "com.twilio.studio.flow.execution.ended"
STEP_ENDED: Final = "com.twilio.studio.flow.step.ended"
_SCHEMAS: Final = {
    EXECUTION_STARTED: "https://events-schemas.twilio.com/Studio.FlowExecutionEvent/2",
    EXECUTION_ENDED: "https://events-schemas.twilio.com/Studio.FlowExecutionEvent/2",
    STEP_ENDED: "https://events-schemas.twilio.com/Studio.FlowStepEvent/1",
}

CloudEvent = dict[str, Any]


def event_time(value: datetime) -> str:
    """An Event Streams date: UTC with milliseconds (REST dates have none)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def execution_event(kind: str, execution: ExecutionRecord, at: datetime) -> CloudEvent:
    """A `…execution.started` or `…execution.ended` CloudEvent for `execution`."""
    data: dict[str, Any] = {
        "execution_sid": execution.sid,
        "account_sid": execution.account_sid,
        "flow_sid": execution.flow_sid,
        "contact_channel_address": execution.contact_channel_address,
        "status": "ended" if kind == EXECUTION_ENDED else "active",
        "date_created": event_time(execution.date_created),
        "date_updated": event_time(execution.date_updated or at),
        "started_by": execution.initiated_by,
        "flow_revision": execution.flow_version,
    }
    if kind == EXECUTION_ENDED:
        data["ended_reason"] = "FLOW_END"
    return _envelope(kind, execution, at, data)


def step_event(execution: ExecutionRecord, step: StepRecord) -> CloudEvent:
    """A `…step.ended` CloudEvent: no widget type, no context (Twilio sends neither)."""
    data = {
        "account_sid": execution.account_sid,
        "date_created": event_time(step.date_created),
        "execution_sid": execution.sid,
        "flow_sid": execution.flow_sid,
        "name": step.name,
        "parent_step_sid": step.parent_step_sid,
        "step_sid": step.sid,
        "transitioned_from": step.transitioned_from,
        "transitioned_to": step.transitioned_to,
    }
    return _envelope(STEP_ENDED, execution, step.date_created, data)


def _envelope(kind: str, execution: ExecutionRecord, at: datetime, data: CloudEvent) -> CloudEvent:
    return {
        "specversion": "1.0",
        "type": kind,
        "source": f"/v2/Flows/{execution.flow_sid}/Executions/{execution.sid}",
        "id": "EZ" + secrets.token_hex(16),
        "dataschema": _SCHEMAS[kind],
        "datacontenttype": "application/json",
        "time": event_time(at),
        "data": data,
    }


def body_of(events: list[CloudEvent], *, as_array: bool) -> bytes:
    """A delivery's body: one object, or an array (a sink with `batch_events`)."""
    value: Any = events if as_array else events[0]
    return json.dumps(value, separators=(",", ":")).encode()


def signed_request(url: str, body: bytes, auth_token: str) -> tuple[str, str]:
    """The URL Twilio posts `body` to (with `bodySHA256`) and its `X-Twilio-Signature`."""
    digest = hashlib.sha256(body).hexdigest()
    full = f"{url}{'&' if '?' in url else '?'}bodySHA256={digest}"
    mac = hmac.new(auth_token.encode(), full.encode(), hashlib.sha1).digest()
    return full, base64.b64encode(mac).decode()
