"""An Event Streams delivery read into `StudioEvent`s.

A delivery is one CloudEvent 1.0 object in JSON structured mode, or a JSON
array of them (a sink with `batch_events`). The Studio types become
`StudioEvent`s carrying the REST record they stand for, the event's field
names mapped to the REST ones (FACTS.md section 1.2):

    event                  REST record
    execution_sid          Execution.sid            step_sid         ExecutionStep.sid
    started_by             Execution.initiated_by   (no type)        ExecutionStep.type = None
    flow_revision          Execution.flow_version   (no context)     ExecutionStep.context = None

Event dates carry milliseconds and REST dates none: the records get whole
seconds, as REST would give them, and `StudioEvent.time` keeps the precise
CloudEvent `time` that orders deliveries. An execution's status follows the
event's type (Twilio's own examples show a *started* event with
`status: "ended"`). Other types are counted and skipped; an event that cannot
be read is counted and skipped with a reason that names a field, never a
value (events carry contact addresses).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from gateway.events.model import EXECUTION_ENDED, EXECUTION_STARTED, STEP_ENDED, StudioEvent
from gateway.security.client_json import ClientJSONError, loads
from gateway.studio import sids
from gateway.studio.errors import StudioError
from gateway.studio.records import (
    Execution,
    ExecutionStatus,
    ExecutionStep,
    parse_datetime,
)

#: Longest CloudEvent `id` kept (Twilio's are a SID-like 34 characters).
MAX_ID_LENGTH: Final = 200
#: Events in one delivery, at most (Twilio batches far fewer).
MAX_EVENTS: Final = 1000


class MalformedEvent(ValueError):
    """An event, or the whole delivery, cannot be read; the message names what, never a value."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"MalformedEvent({self.message!r})"


@dataclass(slots=True)
class Delivery:
    """What one webhook request held."""

    events: list[StudioEvent] = field(default_factory=list)
    #: Types the gateway does not act on, with how many of each.
    ignored: Counter[str] = field(default_factory=Counter)
    #: Why each unreadable event was skipped (field names only).
    malformed: list[str] = field(default_factory=list)


def parse_delivery(body: bytes) -> Delivery:
    """The events of a delivery body; MalformedEvent when the body itself is unusable."""
    try:
        value = loads(body, what="the delivery")
    except ClientJSONError as error:
        raise MalformedEvent(error.message) from None
    if isinstance(value, dict):
        items: list[Any] = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise MalformedEvent("the delivery is neither a CloudEvent object nor an array of them")
    if len(items) > MAX_EVENTS:
        raise MalformedEvent(f"the delivery holds more than {MAX_EVENTS} events")
    delivery = Delivery()
    for position, item in enumerate(items):
        try:
            event = parse_event(item)
        except MalformedEvent as error:
            delivery.malformed.append(f"event {position + 1}: {error.message}")
            continue
        if isinstance(event, str):
            delivery.ignored[event] += 1
        else:
            delivery.events.append(event)
    return delivery


def parse_event(item: Any) -> StudioEvent | str:
    """One CloudEvent as a StudioEvent, or its type when it is not one of Studio's."""
    if not isinstance(item, dict):
        raise MalformedEvent("is not a JSON object")
    kind = _text(item, "type", where="")
    if kind not in (EXECUTION_STARTED, EXECUTION_ENDED, STEP_ENDED):
        return kind[:100]
    event_id = _text(item, "id", where="")
    if len(event_id) > MAX_ID_LENGTH:
        raise MalformedEvent(f"'id' is longer than {MAX_ID_LENGTH} characters")
    data = item.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent("'data' is missing or not an object")
    account_sid = _sid(data, "account_sid", "AC")
    flow_sid = _sid(data, "flow_sid", "FW")
    execution_sid = _sid(data, "execution_sid", "FN")
    try:
        if kind == STEP_ENDED:
            step = ExecutionStep.from_json(_step_fields(data, account_sid))
            execution = None
            created = step.date_created
        else:
            execution = Execution.from_json(_execution_fields(data, kind, account_sid))
            step = None
            created = execution.date_created
        time = _date(item.get("time"), "time") or created
    except StudioError as error:
        # The record's own message names a field and, for dates, a short excerpt of a
        # date: hand on the field alone.
        raise MalformedEvent(_field_of(str(error))) from None
    if time is None:
        raise MalformedEvent("neither 'time' nor 'data.date_created' is set")
    return StudioEvent(
        id=event_id,
        type=kind,
        time=time,
        account_sid=account_sid,
        flow_sid=flow_sid,
        execution_sid=execution_sid,
        execution=execution,
        step=step,
    )


def _execution_fields(data: dict[str, Any], kind: str, account_sid: str) -> dict[str, Any]:
    status = ExecutionStatus.ENDED if kind == EXECUTION_ENDED else ExecutionStatus.ACTIVE
    return {
        "sid": data["execution_sid"],
        "account_sid": account_sid,
        "flow_sid": data["flow_sid"],
        "contact_channel_address": data.get("contact_channel_address"),
        "contact_sid": None,
        "flow_version": data.get("flow_revision"),
        "context": None,
        "status": status.value,
        "date_created": _rest_date(data, "date_created"),
        "date_updated": _rest_date(data, "date_updated"),
        "initiated_by": data.get("started_by"),
        "url": None,
    }


def _step_fields(data: dict[str, Any], account_sid: str) -> dict[str, Any]:
    return {
        "sid": _sid(data, "step_sid", "FT"),
        "account_sid": account_sid,
        "flow_sid": data["flow_sid"],
        "execution_sid": data["execution_sid"],
        "parent_step_sid": data.get("parent_step_sid"),
        "name": data.get("name"),
        "context": None,
        "transitioned_from": data.get("transitioned_from"),
        "transitioned_to": data.get("transitioned_to"),
        "type": None,
        "date_created": _rest_date(data, "date_created"),
        "date_updated": _rest_date(data, "date_updated"),
        "url": None,
    }


def _rest_date(data: dict[str, Any], key: str) -> str | None:
    """An event date as REST writes it: whole seconds."""
    value = _date(data.get(key), key)
    return None if value is None else value.replace(microsecond=0).isoformat()


def _date(value: Any, name: str) -> datetime | None:
    try:
        return parse_datetime(value)
    except StudioError:
        raise MalformedEvent(f"'{name}' is not an ISO 8601 timestamp") from None


def _text(item: dict[str, Any], key: str, *, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"'{where}{key}' is missing or not a string")
    return value


def _sid(data: dict[str, Any], key: str, prefix: str) -> str:
    value = data.get(key)
    if not sids.is_sid(prefix, value):
        raise MalformedEvent(f"'data.{key}' is not a {sids.KINDS[prefix]} SID")
    return str(value)


def _field_of(message: str) -> str:
    start = message.find("'")
    end = message.find("'", start + 1)
    if start < 0 or end < 0:
        return "a field of 'data' is malformed"
    name = message[start + 1 : end]
    return f"'data.{_EVENT_NAMES.get(name, name)}' is malformed"


#: REST names back to the event's own, for messages.
_EVENT_NAMES: Final = {
    "flow_version": "flow_revision",
    "initiated_by": "started_by",
    "sid": "step_sid",
}
