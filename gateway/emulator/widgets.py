"""What each widget type does when a simulated execution reaches it.

A widget picks the event that leaves it (weighted towards the happy path, or
decided by a split's conditions), and produces the output Studio would put in
`widgets.<name>` of the context. Everything random comes from the run's seeded
generator, so a seeded account is the same on every run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from gateway.emulator import sids
from gateway.emulator.definition import CompiledFlow, Transition, Widget
from gateway.emulator.expressions import as_text, condition_holds, lookup, render
from gateway.emulator.records import Json

# Widgets that wait for the contact; a run stops at them unless replaying history.
WAITING_TYPES: Final = frozenset({"send-and-wait-for-reply", "gather-input-on-call"})

_NOISE_REPLIES: Final = ("maybe", "?", "not sure", "hello", "ok")
_SPEECH: Final = ("billing", "technical support", "order status", "agent", "uh I don't know")


@dataclass(slots=True)
class Performance:
    """The outcome of running one widget."""

    event: str
    output: Json | None = None
    variables: dict[str, str] | None = None
    # The split's chosen transition, when several share the event "match".
    transition: Transition | None = None
    # How long the contact or the network took, for paced (seeded) history.
    waited_seconds: int = 0


@dataclass(slots=True)
class WidgetEnv:
    """What a widget can see while it runs."""

    context: Json
    rng: random.Random
    sid_factory: sids.SidFactory
    flow: CompiledFlow
    replies: Mapping[str, Sequence[str]]


def perform(widget: Widget, env: WidgetEnv) -> Performance:
    handler = _HANDLERS.get(widget.type)
    if handler is None:
        first = widget.transitions[0].event if widget.transitions else "next"
        return Performance(event=first)
    return handler(widget, env)


def _pick(widget: Widget, rng: random.Random, weights: Sequence[tuple[str, float]]) -> str:
    """A weighted event among those the widget has transitions for."""
    present = [(event, weight) for event, weight in weights if widget.has_event(event)]
    if not present:
        return weights[0][0]
    events = [event for event, _ in present]
    return rng.choices(events, weights=[weight for _, weight in present])[0]


def _prop(widget: Widget, env: WidgetEnv, key: str, default: str = "") -> str:
    return render(as_text(widget.properties.get(key, default)), env.context)


def _reply(widget: Widget, env: WidgetEnv, fallback: Sequence[str]) -> str:
    hinted = env.replies.get(widget.name) or env.flow.reply_candidates.get(widget.name)
    options = tuple(hinted or fallback)
    if env.rng.random() < 0.15:
        return env.rng.choice(_NOISE_REPLIES)
    return env.rng.choice(options)


def _send_message(widget: Widget, env: WidgetEnv) -> Performance:
    event = _pick(widget, env.rng, (("sent", 97), ("failed", 3)))
    output = {
        "Body": _prop(widget, env, "body"),
        "MessageSid": env.sid_factory.new(sids.MESSAGE),
        "Status": "sent" if event == "sent" else "failed",
        "To": _prop(widget, env, "to", "{{contact.channel.address}}"),
        "From": _prop(widget, env, "from", "{{flow.channel.address}}"),
    }
    return Performance(event=event, output=output, waited_seconds=1)


def _send_and_wait(widget: Widget, env: WidgetEnv) -> Performance:
    event = _pick(
        widget, env.rng, (("incomingMessage", 82), ("timeout", 14), ("deliveryFailure", 4))
    )
    outbound = {
        "Body": _prop(widget, env, "body"),
        "MessageSid": env.sid_factory.new(sids.MESSAGE),
        "Status": "failed" if event == "deliveryFailure" else "delivered",
    }
    output: Json = {"outbound": outbound}
    waited = env.rng.randint(20, 900)
    if event == "incomingMessage":
        output["inbound"] = {
            "Body": _reply(widget, env, ("yes",)),
            "From": lookup(env.context, "contact.channel.address"),
            "To": lookup(env.context, "flow.channel.address"),
            "MessageSid": env.sid_factory.new(sids.MESSAGE),
            "NumMedia": "0",
        }
    elif event == "timeout":
        waited = int(as_text(widget.properties.get("timeout", "3600")) or 3600)
    return Performance(event=event, output=output, waited_seconds=waited)


def _split(widget: Widget, env: WidgetEnv) -> Performance:
    subject = _prop(widget, env, "input")
    for transition in widget.transitions:
        if transition.event != "match" or not transition.conditions:
            continue
        if all(_holds(condition, subject, env) for condition in transition.conditions):
            return Performance(event="match", transition=transition)
    return Performance(event="noMatch")


def _holds(condition: Mapping[str, Any], subject: str, env: WidgetEnv) -> bool:
    arguments = condition.get("arguments") or ()
    if arguments:
        subject = render(as_text(arguments[0]), env.context)
    return condition_holds(condition, subject)


def _set_variables(widget: Widget, env: WidgetEnv) -> Performance:
    variables = {
        as_text(item.get("key")): render(as_text(item.get("value")), env.context)
        for item in widget.properties.get("variables") or ()
        if isinstance(item, Mapping) and item.get("key")
    }
    return Performance(event="next", variables=variables)


def _http_request(widget: Widget, env: WidgetEnv) -> Performance:
    event = _pick(widget, env.rng, (("success", 94), ("failed", 6)))
    url = _prop(widget, env, "url")
    if event == "success":
        parsed = _payload(url, env)
        output = {
            "status_code": 200,
            "content_type": "application/json",
            "body": json.dumps(parsed),
            "parsed": parsed,
        }
    else:
        output = {
            "status_code": env.rng.choice((500, 502, 504)),
            "content_type": "text/plain",
            "body": "upstream request failed",
        }
    return Performance(event=event, output=output, waited_seconds=1)


def _run_function(widget: Widget, env: WidgetEnv) -> Performance:
    event = _pick(widget, env.rng, (("success", 96), ("fail", 4)))
    url = _prop(widget, env, "url")
    if event == "success":
        parsed = _payload(url, env)
        output = {"status_code": 200, "body": json.dumps(parsed), "parsed": parsed}
    else:
        output = {"status_code": 500, "body": "Error: function timed out after 10s"}
    return Performance(event=event, output=output, waited_seconds=1)


def _payload(url: str, env: WidgetEnv) -> Json:
    """A plausible JSON answer from the services the seeded flows call."""
    rng = env.rng
    if "/orders/" in url:
        status = rng.choices(
            ("shipped", "processing", "delivered", "cancelled"), weights=(40, 25, 25, 10)
        )[0]
        return {
            "order_id": url.rsplit("/", 1)[-1],
            "status": status,
            "carrier": rng.choice(("UPS", "FedEx", "USPS", "DHL")),
            "eta": f"2025-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
        }
    if "appointment" in url:
        return {
            "appointment_id": as_text(lookup(env.context, "flow.data.appointment_id")),
            "time": f"{rng.choice(('Mon', 'Tue', 'Wed', 'Thu', 'Fri'))} {rng.randint(8, 17)}:00",
            "provider": rng.choice(("Dr. Patel", "Dr. Okafor", "Dr. Müller", "Dr. García")),
        }
    if "check-verification" in url:
        return {"valid": rng.random() < 0.85, "status": "approved"}
    if "verification" in url:
        return {"status": "pending", "channel": "sms"}
    if "hours" in url:
        return {"open": rng.random() < 0.8, "timezone": "America/New_York"}
    return {"ok": True, "id": f"rec_{rng.getrandbits(40):010x}"}


def _outgoing_call(widget: Widget, env: WidgetEnv) -> Performance:
    event = _pick(widget, env.rng, (("answered", 85), ("busy", 5), ("noAnswer", 7), ("failed", 3)))
    statuses = {"answered": "in-progress", "busy": "busy", "noAnswer": "no-answer"}
    output = {
        "CallSid": env.sid_factory.new(sids.CALL),
        "CallStatus": statuses.get(event, "failed"),
        "To": lookup(env.context, "contact.channel.address"),
        "From": lookup(env.context, "flow.channel.address"),
    }
    if event == "answered":
        output["AnsweredBy"] = "human"
    return Performance(event=event, output=output, waited_seconds=env.rng.randint(5, 25))


def _say_play(widget: Widget, env: WidgetEnv) -> Performance:
    return Performance(event="audioComplete", waited_seconds=env.rng.randint(4, 15))


def _gather(widget: Widget, env: WidgetEnv) -> Performance:
    event = _pick(widget, env.rng, (("keypress", 70), ("speech", 15), ("timeout", 15)))
    output: Json = {"CallSid": env.sid_factory.new(sids.CALL)}
    if event == "keypress":
        output.update(Digits=_reply(widget, env, ("1",)), FinishedOnKey="")
    elif event == "speech":
        output.update(
            SpeechResult=env.rng.choice(_SPEECH), Confidence=f"0.{env.rng.randint(55, 98)}"
        )
    return Performance(event=event, output=output, waited_seconds=env.rng.randint(3, 12))


def _connect_call(widget: Widget, env: WidgetEnv) -> Performance:
    event = _pick(widget, env.rng, (("callCompleted", 88), ("hangup", 12)))
    output = {
        "DialCallSid": env.sid_factory.new(sids.CALL),
        "DialCallStatus": "completed" if event == "callCompleted" else "no-answer",
        "DialCallDuration": str(env.rng.randint(20, 900)),
    }
    return Performance(event=event, output=output, waited_seconds=env.rng.randint(20, 900))


_HANDLERS: Final[dict[str, Callable[[Widget, WidgetEnv], Performance]]] = {
    "send-message": _send_message,
    "send-and-wait-for-reply": _send_and_wait,
    "split-based-on": _split,
    "set-variables": _set_variables,
    "make-http-request": _http_request,
    "run-function": _run_function,
    "make-outgoing-call-v2": _outgoing_call,
    "say-play": _say_play,
    "gather-input-on-call": _gather,
    "connect-call-to": _connect_call,
}
