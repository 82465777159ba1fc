"""Helpers that write Studio widget JSON the way the Studio canvas exports it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from gateway.emulator.records import Json

TRIGGER_EVENTS: Final = (
    "incomingMessage",
    "incomingCall",
    "incomingConversationMessage",
    "incomingRequest",
    "incomingParent",
)
SCHEMA_URL: Final = "https://schemas.twilio.com/studio/draft/2019-09/flow-definition"


def go(event: str, target: str | None = None, *conditions: Json) -> Json:
    """A transition; without a target the execution ends there, as in Studio."""
    transition: Json = {"event": event}
    if target is not None:
        transition["next"] = target
    if conditions:
        transition["conditions"] = list(conditions)
    return transition


def condition(friendly_name: str, subject: str, kind: str, value: str) -> Json:
    return {"friendly_name": friendly_name, "arguments": [subject], "type": kind, "value": value}


def state(
    name: str, kind: str, transitions: Sequence[Json], at: tuple[int, int], **properties: Any
) -> Json:
    return {
        "name": name,
        "type": kind,
        "transitions": list(transitions),
        "properties": {**properties, "offset": {"x": at[0], "y": at[1]}},
    }


def definition(states: Sequence[Json], description: str) -> Json:
    return {
        "description": description,
        "states": list(states),
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    }


def trigger(targets: Mapping[str, str | None]) -> Json:
    return state(
        "Trigger", "trigger", [go(event, targets.get(event)) for event in TRIGGER_EVENTS], (0, 0)
    )


def send_message(name: str, body: str, at: tuple[int, int], sent: str | None = None) -> Json:
    return state(
        name,
        "send-message",
        [go("sent", sent), go("failed")],
        at,
        service="{{trigger.message.InstanceSid}}",
        channel="{{trigger.message.ChannelSid}}",
        **{"from": "{{flow.channel.address}}"},
        to="{{contact.channel.address}}",
        body=body,
    )


def send_and_wait(
    name: str,
    body: str,
    at: tuple[int, int],
    *,
    reply: str | None,
    timeout: str | None = None,
    failure: str | None = None,
    seconds: str = "3600",
) -> Json:
    return state(
        name,
        "send-and-wait-for-reply",
        [go("incomingMessage", reply), go("timeout", timeout), go("deliveryFailure", failure)],
        at,
        service="{{trigger.message.InstanceSid}}",
        channel="{{trigger.message.ChannelSid}}",
        **{"from": "{{flow.channel.address}}"},
        body=body,
        timeout=seconds,
    )


def split(
    name: str,
    subject: str,
    matches: Sequence[tuple[str, str, str]],
    at: tuple[int, int],
    *,
    no_match: str | None,
) -> Json:
    """A split-based-on; `matches` are (condition type, value, target) in order."""
    transitions = [go("noMatch", no_match)]
    for kind, value, target in matches:
        label = f"If value {kind} {value}"
        transitions.append(go("match", target, condition(label, subject, kind, value)))
    return state(name, "split-based-on", transitions, at, input=subject)


def set_variables(
    name: str, variables: Mapping[str, str], at: tuple[int, int], after: str | None
) -> Json:
    items = [{"value": value, "key": key} for key, value in variables.items()]
    return state(name, "set-variables", [go("next", after)], at, variables=items)


def http_request(
    name: str,
    method: str,
    url: str,
    at: tuple[int, int],
    *,
    success: str | None,
    failed: str | None,
    body: str | None = None,
) -> Json:
    properties: Json = {
        "method": method,
        "content_type": "application/json;charset=utf-8",
        "url": url,
    }
    if body is not None:
        properties["body"] = body
    return state(
        name, "make-http-request", [go("success", success), go("failed", failed)], at, **properties
    )


def run_function(
    name: str,
    url: str,
    refs: tuple[str, str, str],
    parameters: Mapping[str, str],
    at: tuple[int, int],
    *,
    success: str | None,
    fail: str | None,
) -> Json:
    """A run-function widget; `refs` are the service, environment and function SIDs."""
    service_sid, environment_sid, function_sid = refs
    return state(
        name,
        "run-function",
        [go("success", success), go("fail", fail)],
        at,
        service_sid=service_sid,
        environment_sid=environment_sid,
        function_sid=function_sid,
        url=url,
        parameters=[{"value": value, "key": key} for key, value in parameters.items()],
    )


def run_subflow(
    name: str,
    flow_sid: str,
    parameters: Mapping[str, str],
    at: tuple[int, int],
    *,
    completed: str | None,
    failed: str | None,
) -> Json:
    return state(
        name,
        "run-subflow",
        [go("completed", completed), go("failed", failed)],
        at,
        flow_sid=flow_sid,
        flow_revision="LatestPublished",
        parameters=[{"value": value, "key": key} for key, value in parameters.items()],
    )


def say_play(
    name: str, text: str, at: tuple[int, int], after: str | None, language: str = "en-US"
) -> Json:
    return state(
        name,
        "say-play",
        [go("audioComplete", after)],
        at,
        voice="Polly.Joanna-Neural" if language == "en-US" else "Polly.Lucia-Neural",
        language=language,
        say=text,
        loop=1,
    )


def gather(
    name: str,
    text: str,
    at: tuple[int, int],
    *,
    keypress: str | None,
    speech: str | None,
    timeout: str | None,
) -> Json:
    return state(
        name,
        "gather-input-on-call",
        [go("keypress", keypress), go("speech", speech), go("timeout", timeout)],
        at,
        voice="Polly.Joanna-Neural",
        language="en-US",
        say=text,
        number_of_digits=1,
        speech_timeout="auto",
        loop=1,
        finish_on_key="#",
        stop_gather=True,
        gather_language="en-US",
        profanity_filter="true",
        timeout=5,
    )


def outgoing_call(
    name: str, at: tuple[int, int], *, answered: str | None, other: str | None = None
) -> Json:
    return state(
        name,
        "make-outgoing-call-v2",
        [go("answered", answered), go("busy", other), go("noAnswer", other), go("failed", other)],
        at,
        machine_detection_speech_threshold="2400",
        detect_answering_machine=False,
        send_digits="",
        machine_detection="Enable",
        trim="do-not-trim",
        record=False,
        machine_detection_timeout="30",
        timeout=60,
        machine_detection_speech_end_threshold="1200",
        machine_detection_silence_timeout="5000",
        **{"from": "{{flow.channel.address}}"},
        to="{{contact.channel.address}}",
    )


def connect_call(name: str, number: str, at: tuple[int, int]) -> Json:
    return state(
        name,
        "connect-call-to",
        [go("callCompleted"), go("hangup")],
        at,
        caller_id="{{contact.channel.address}}",
        noun="number",
        to=number,
        timeout=30,
        record=False,
    )
