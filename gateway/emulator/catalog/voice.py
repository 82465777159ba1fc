"""The IVR: a phone menu that has been edited many times."""

from __future__ import annotations

import random
from typing import Final

from gateway.emulator import sids
from gateway.emulator.catalog import builders as b
from gateway.emulator.catalog.template import FlowTemplate, Refs
from gateway.emulator.records import Json

_GREETINGS: Final = (
    "Thank you for calling Acme Support.",
    "Thanks for calling Acme. Calls may be recorded for quality and training.",
    "Welcome to Acme Support. Our hold times are shorter than usual today.",
    "Thank you for calling Acme. For faster help, visit acme.example.com/help.",
    "Happy holidays from everyone at Acme! Thanks for calling.",
    "Thanks for calling Acme Support. We have updated our menu options.",
)
_HOURS_FUNCTION: Final = (
    sids.fixed_sid("ZS", "acme-support"),
    sids.fixed_sid("ZE", "acme-support-prod"),
    sids.fixed_sid("ZH", "business-hours"),
)


def _ivr(revision: int, refs: Refs) -> Json:
    """Every revision rewords the greeting; 20 adds a business-hours check; 40 adds
    a Spanish-language option."""
    first = "check_hours" if revision >= 20 else "greeting"
    menu = "For billing, press 1. For technical support, press 2. For order status, press 3. "
    if revision >= 40:
        menu += "Para español, oprima 4. "
    menu += "To hear these options again, press 9."
    digits = [
        ("equal_to", "1", "connect_billing"),
        ("equal_to", "2", "connect_support"),
        ("equal_to", "3", "order_status_info"),
        ("equal_to", "9", "greeting"),
    ]
    if revision >= 40:
        digits.insert(3, ("equal_to", "4", "connect_spanish"))
    states = [
        b.trigger({"incomingCall": first, "incomingRequest": "call_customer"}),
        b.outgoing_call("call_customer", (300, 200), answered=first),
        b.say_play("greeting", _GREETINGS[revision % len(_GREETINGS)], (0, 430), "main_menu"),
        b.gather(
            "main_menu",
            menu,
            (0, 660),
            keypress="route_digits",
            speech="route_speech",
            timeout="no_input",
        ),
        b.split(
            "route_digits",
            "{{widgets.main_menu.Digits}}",
            digits,
            (-300, 890),
            no_match="invalid_choice",
        ),
        b.split(
            "route_speech",
            "{{widgets.main_menu.SpeechResult}}",
            [
                ("contains", "billing", "connect_billing"),
                ("contains", "support", "connect_support"),
                ("contains", "order", "order_status_info"),
            ],
            (300, 890),
            no_match="invalid_choice",
        ),
        b.say_play("invalid_choice", "Sorry, that is not a valid option.", (700, 660), "main_menu"),
        b.say_play("no_input", "We didn't receive any input.", (-700, 660), "main_menu"),
        b.connect_call("connect_billing", "+18005550101", (-600, 1120)),
        b.connect_call("connect_support", "+18005550102", (-250, 1120)),
        b.say_play(
            "order_status_info",
            "To check an order, text ORDER to this number or visit acme.example.com/orders.",
            (100, 1120),
            "goodbye",
        ),
        b.say_play("goodbye", "Thank you for calling Acme. Goodbye!", (100, 1350), None),
    ]
    if revision >= 20:
        states += [
            b.run_function(
                "check_hours",
                "https://acme-support-5821.twil.io/business-hours",
                _HOURS_FUNCTION,
                {"timezone": "America/New_York"},
                (0, 200),
                success="hours_split",
                fail="greeting",
            ),
            b.split(
                "hours_split",
                "{{widgets.check_hours.parsed.open}}",
                [("equal_to", "true", "greeting")],
                (0, 315),
                no_match="after_hours",
            ),
            b.say_play(
                "after_hours",
                "Our office is closed. Please call back between 8 AM and 8 PM Eastern.",
                (-400, 315),
                None,
            ),
        ]
    if revision >= 40:
        states.append(b.connect_call("connect_spanish", "+18005550104", (450, 1120)))
    return b.definition(states, "Inbound and callback phone menu")


def _ivr_parameters(rng: random.Random) -> Json:
    return {"reason": "callback_requested", "ticket": f"T-{rng.randint(100000, 999999)}"}


IVR: Final = FlowTemplate(
    key="ivr",
    friendly_name="IVR Main Menu",
    build=_ivr,
    revisions=60,
    entry_events=(("incomingCall", 65), ("incomingRequest", 35)),
    parameters=_ivr_parameters,
    channel="voice",
    commit_messages=(
        "Update greeting",
        "Tweak menu wording",
        "Holiday greeting",
        "Shorter prompts",
        "Revert greeting",
        "WIP: new holiday hours",
    ),
    replies={"main_menu": ("1", "2", "3", "2", "1", "9", "4", "7")},
    latest_is_draft=True,
)
