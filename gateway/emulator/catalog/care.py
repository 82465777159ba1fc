"""The appointment reminder and the identity-verification subflow it runs."""

from __future__ import annotations

import random
from typing import Final

from gateway.emulator import sids
from gateway.emulator.catalog import builders as b
from gateway.emulator.catalog.template import FlowTemplate, Refs
from gateway.emulator.records import Json

_CALL_US: Final = "We couldn't finish this by text. Please call us at +1 800 555 0199."
_CLINIC_FUNCTION: Final = (
    sids.fixed_sid("ZS", "acme-clinic"),
    sids.fixed_sid("ZE", "acme-clinic-prod"),
    sids.fixed_sid("ZH", "appointment-lookup"),
)
_VERIFY_START: Final = (
    sids.fixed_sid("ZS", "acme-verify"),
    sids.fixed_sid("ZE", "acme-verify-prod"),
    sids.fixed_sid("ZH", "start-verification"),
)
_VERIFY_CHECK: Final = (*_VERIFY_START[:2], sids.fixed_sid("ZH", "check-verification"))


def _reminder(revision: int, refs: Refs) -> Json:
    """Revision 2 records the outcome in a variable; 4 rewords the reminder."""
    reminder = (
        "Hi {{flow.data.first_name}}, Acme Clinic here: your appointment with "
        "{{widgets.fetch_appointment.parsed.provider}} is on "
        "{{widgets.fetch_appointment.parsed.time}}. Reply C to confirm or R to reschedule."
    )
    if revision >= 4:
        reminder = reminder.replace("Acme Clinic here", "a reminder from Acme Clinic")
    confirmed_next = "record_outcome" if revision >= 2 else "send_confirmed"
    states = [
        b.trigger({"incomingRequest": "verify_identity"}),
        b.run_subflow(
            "verify_identity",
            refs.subflow_sid,
            {"phone": "{{contact.channel.address}}", "reason": "appointment"},
            (0, 200),
            completed="check_verified",
            failed="send_call_us",
        ),
        b.split(
            "check_verified",
            "{{widgets.verify_identity.verified}}",
            [("equal_to", "true", "fetch_appointment")],
            (0, 430),
            no_match="send_cannot_verify",
        ),
        b.run_function(
            "fetch_appointment",
            "https://acme-clinic-2093.twil.io/appointment-lookup",
            _CLINIC_FUNCTION,
            {"appointment_id": "{{flow.data.appointment_id}}"},
            (0, 660),
            success="ask_confirm",
            fail="send_call_us",
        ),
        b.send_and_wait(
            "ask_confirm", reminder, (0, 890), reply="route_reply", timeout="send_call_us"
        ),
        b.split(
            "route_reply",
            "{{widgets.ask_confirm.inbound.Body}}",
            [
                ("matches_any_of", "c,confirm,yes,y", "mark_confirmed"),
                ("matches_any_of", "r,reschedule", "send_reschedule_link"),
            ],
            (0, 1120),
            no_match="invalid_reply",
        ),
        b.send_message(
            "invalid_reply",
            "Please reply C to confirm or R to reschedule.",
            (-400, 1120),
            sent="ask_confirm",
        ),
        b.http_request(
            "mark_confirmed",
            "PATCH",
            "https://api.acme-clinic.example/v1/appointments/{{flow.data.appointment_id}}",
            (-200, 1350),
            success=confirmed_next,
            failed="send_call_us",
            body='{"status": "confirmed"}',
        ),
        b.send_message(
            "send_confirmed", "Thanks! Your appointment is confirmed. See you soon.", (-200, 1810)
        ),
        b.send_message(
            "send_reschedule_link",
            "No problem. Pick a new time here: "
            "https://acme-clinic.example/r/{{flow.data.appointment_id}}",
            (250, 1350),
        ),
        b.send_message("send_call_us", _CALL_US, (500, 890)),
        b.send_message(
            "send_cannot_verify",
            "We couldn't verify your identity. Please call us at +1 800 555 0199.",
            (400, 430),
        ),
    ]
    if revision >= 2:
        states.append(
            b.set_variables(
                "record_outcome", {"outcome": "confirmed"}, (-200, 1580), "send_confirmed"
            )
        )
    return b.definition(states, "Appointment reminders with confirmation by SMS")


def _verify(revision: int, refs: Refs) -> Json:
    """The subflow; revision 2 shortens the code's lifetime, 3 rewords the prompt."""
    prompt = (
        "Please reply with the 6-digit code we just sent you."
        if revision >= 3
        else "Your Acme verification code is on its way. Reply with the 6-digit code."
    )
    states = [
        b.trigger({"incomingParent": "send_code", "incomingRequest": "send_code"}),
        b.run_function(
            "send_code",
            "https://acme-verify-4471.twil.io/start-verification",
            _VERIFY_START,
            {"to": "{{contact.channel.address}}", "channel": "sms"},
            (0, 200),
            success="ask_code",
            fail="set_unverified",
        ),
        b.send_and_wait(
            "ask_code",
            prompt,
            (0, 430),
            reply="check_code",
            timeout="set_unverified",
            seconds="600" if revision >= 2 else "1800",
        ),
        b.run_function(
            "check_code",
            "https://acme-verify-4471.twil.io/check-verification",
            _VERIFY_CHECK,
            {"to": "{{contact.channel.address}}", "code": "{{widgets.ask_code.inbound.Body}}"},
            (0, 660),
            success="code_ok",
            fail="set_unverified",
        ),
        b.split(
            "code_ok",
            "{{widgets.check_code.parsed.valid}}",
            [("equal_to", "true", "set_verified")],
            (0, 890),
            no_match="set_unverified",
        ),
        b.set_variables("set_verified", {"verified": "true"}, (0, 1120), None),
        b.set_variables("set_unverified", {"verified": "false"}, (400, 1120), None),
    ]
    return b.definition(states, "Verifies a contact by one-time code; run as a subflow")


def _reminder_parameters(rng: random.Random) -> Json:
    return {
        "first_name": rng.choice(("Ana", "Tom", "Oluwaseun", "Siobhán", "Noah", "Mei")),
        "appointment_id": f"APT-{rng.randint(100000, 999999)}",
        "clinic": rng.choice(("Downtown", "Riverside", "North Hills")),
    }


REMINDER: Final = FlowTemplate(
    key="reminder",
    friendly_name="Appointment Reminder",
    build=_reminder,
    revisions=4,
    entry_events=(("incomingRequest", 100),),
    parameters=_reminder_parameters,
    channel="sms",
    commit_messages=(
        "Appointment reminders",
        "Track confirmed outcome",
        "Minor copy edits",
        "New reminder wording",
    ),
    replies={
        "ask_confirm": ("C", "c", "R", "yes", "Confirm", "C"),
        "ask_code": ("482913", "105577", "730214", "99"),
    },
)

VERIFY: Final = FlowTemplate(
    key="verify",
    friendly_name="Verify Contact (subflow)",
    build=_verify,
    revisions=3,
    entry_events=(("incomingRequest", 100),),
    parameters=lambda rng: {"phone_check": "manual"},
    channel="sms",
    commit_messages=("Verification subflow", "Codes expire after 10 minutes", "Clearer prompt"),
    replies={"ask_code": ("482913", "105577", "730214", "99")},
)
