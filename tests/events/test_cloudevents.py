"""Deliveries read into StudioEvents: Twilio's field names mapped to the REST records'."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.events.cloudevents import MalformedEvent, parse_delivery
from gateway.events.model import EXECUTION_ENDED, EXECUTION_STARTED, STEP_ENDED
from gateway.studio.records import ExecutionStatus

ACCOUNT = "AC" + "a" * 32
FLOW = "FW" + "b" * 32
EXECUTION = "FN" + "c" * 32
STEP = "FT" + "d" * 32


def envelope(kind: str, data: dict[str, Any], event_id: str = "EZ1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": kind,
        "source": "/v2/Flows/" + FLOW,
        "id": event_id,
        "dataschema": "https://events-schemas.twilio.com/Studio.FlowExecutionEvent/2",
        "datacontenttype": "application/json",
        "time": "2026-06-10T06:02:54.377Z",
        "data": data,
    }


def execution_data(status: str = "active") -> dict[str, Any]:
    return {
        "execution_sid": EXECUTION,
        "account_sid": ACCOUNT,
        "flow_sid": FLOW,
        "contact_channel_address": "+15551230000",
        "status": status,
        "date_created": "2026-06-10T06:02:53.120Z",
        "date_updated": "2026-06-10T06:02:54.377Z",
        "started_by": "RQ" + "e" * 32,
        "flow_revision": 3,
        "ended_reason": "FLOW_END",
    }


def step_data() -> dict[str, Any]:
    return {
        "account_sid": ACCOUNT,
        "date_created": "2026-06-10T06:02:54.001Z",
        "execution_sid": EXECUTION,
        "flow_sid": FLOW,
        "name": "incomingRequest",
        "parent_step_sid": None,
        "step_sid": STEP,
        "transitioned_from": "Trigger",
        "transitioned_to": "send_message_1",
    }


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_an_execution_event_becomes_the_rest_record() -> None:
    delivery = parse_delivery(body(envelope(EXECUTION_STARTED, execution_data())))
    (event,) = delivery.events
    assert (event.id, event.type, event.execution_sid) == ("EZ1", EXECUTION_STARTED, EXECUTION)
    assert event.time == datetime(2026, 6, 10, 6, 2, 54, 377000, tzinfo=UTC)
    execution = event.execution
    assert execution is not None and event.step is None
    assert execution.initiated_by == "RQ" + "e" * 32
    assert execution.flow_version == 3
    assert execution.status is ExecutionStatus.ACTIVE
    assert execution.context is None
    # REST dates have no fraction.
    assert execution.date_created == datetime(2026, 6, 10, 6, 2, 53, tzinfo=UTC)


def test_the_status_follows_the_type_not_twilios_templated_example() -> None:
    started = parse_delivery(body(envelope(EXECUTION_STARTED, execution_data("ended"))))
    ended = parse_delivery(body(envelope(EXECUTION_ENDED, execution_data("ended"))))
    assert started.events[0].execution.status is ExecutionStatus.ACTIVE  # type: ignore[union-attr]
    assert ended.events[0].execution.status is ExecutionStatus.ENDED  # type: ignore[union-attr]
    assert ended.events[0].ends_execution


def test_a_step_event_becomes_a_step_without_type_or_context() -> None:
    (event,) = parse_delivery(body([envelope(STEP_ENDED, step_data())])).events
    step = event.step
    assert step is not None and event.execution is None
    assert step.sid == STEP
    assert (step.transitioned_from, step.transitioned_to) == ("Trigger", "send_message_1")
    assert step.type is None and step.context is None
    assert step.date_created == datetime(2026, 6, 10, 6, 2, 54, tzinfo=UTC)


def test_a_batch_keeps_the_good_events_counts_other_types_and_names_the_bad_field() -> None:
    bad = execution_data()
    bad["flow_revision"] = "three"
    items = [
        envelope(STEP_ENDED, step_data(), "EZ1"),
        envelope("com.twilio.messaging.message.sent", {"x": 1}, "EZ2"),
        envelope(EXECUTION_STARTED, bad, "EZ3"),
        envelope(EXECUTION_ENDED, execution_data(), "EZ4"),
        "not an event",
    ]
    delivery = parse_delivery(body(items))
    assert [e.id for e in delivery.events] == ["EZ1", "EZ4"]
    assert delivery.ignored == {"com.twilio.messaging.message.sent": 1}
    assert delivery.malformed == [
        "event 3: 'data.flow_revision' is malformed",
        "event 5: is not a JSON object",
    ]


def test_no_reason_carries_a_value_from_the_event() -> None:
    data = execution_data()
    data["date_created"] = "+15551230000 is not a date"
    data["contact_channel_address"] = {"nested": "+15551230000"}
    delivery = parse_delivery(body(envelope(EXECUTION_STARTED, data)))
    assert delivery.events == []
    assert delivery.malformed and "+1555" not in " ".join(delivery.malformed)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"42", "neither a CloudEvent object nor an array"),
        (b"[" * 100 + b"]" * 100, "nests deeper"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_an_unusable_body_is_refused_with_a_clear_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_delivery(raw)
    assert reason in caught.value.message
