"""Messaging flows: the customer surveys (English and Spanish) and the order bot."""

from __future__ import annotations

import random
from typing import Final

from gateway.emulator.catalog import builders as b
from gateway.emulator.catalog.template import FlowTemplate, Refs
from gateway.emulator.records import Json

_FIRST_NAMES: Final = ("Ana", "James", "Priya", "Wei", "Fatima", "Lukas", "Chloé", "Mateo", "Aiko")
_SPANISH_NAMES: Final = ("María José", "Íñigo", "Begoña", "Andrés", "Lucía", "Nuño", "Inés")

_SURVEY_TEXT: Final = {
    "en": {
        "ask": "Hi {{flow.data.first_name}}! On a scale of 1 to 5, how likely are you to "
        "recommend Acme to a friend? Reply with a number.",
        "invalid": "Sorry, we didn't get that. Please reply with a number from 1 to 5.",
        "reason": "Sorry to hear that. What is the one thing we could do better?",
        "thanks": "Thank you for your feedback, {{flow.data.first_name}}!",
        "later": "No problem, we'll check in another time.",
        "opt_out": "STOP,unsubscribe",
    },
    "es": {
        "ask": "¡Hola {{flow.data.first_name}}! Del 1 al 5, ¿qué probabilidad hay de que "
        "recomiendes Ñandú Café a un amigo? Responde con un número.",
        "invalid": "Perdona, no lo entendimos. Responde con un número del 1 al 5.",
        "reason": "Lamentamos oírlo. ¿Qué es lo único que podríamos mejorar?",
        "thanks": "¡Gracias por tu opinión, {{flow.data.first_name}}! Que tengas un buen día.",
        "later": "Sin problema, te escribiremos en otro momento.",
        "opt_out": "BAJA,stop",
    },
}


class _SurveyBuilder:
    """The survey definition; revision 2 adds a timeout note, 3 renames the thank-you
    widget, 4 adds an opt-out branch."""

    def __init__(self, language: str) -> None:
        self.text = _SURVEY_TEXT[language]
        self.api = (
            "https://api.acme-example.com" if language == "en" else "https://api.nandu.example"
        )

    def __call__(self, revision: int, refs: Refs) -> Json:
        text = self.text
        thanks = "thank_you" if revision >= 3 else "send_thanks"
        rating = "{{widgets.ask_rating.inbound.Body}}"
        matches = [
            ("matches_any_of", "4,5", "thank_promoter"),
            ("matches_any_of", "1,2,3", "ask_reason"),
        ]
        if revision >= 4:
            matches.insert(0, ("matches_any_of", text["opt_out"], "opt_out"))
        states = [
            b.trigger({"incomingMessage": "ask_rating", "incomingRequest": "ask_rating"}),
            b.send_and_wait(
                "ask_rating",
                text["ask"],
                (-150, 200),
                reply="check_rating",
                timeout="send_later_note" if revision >= 2 else None,
            ),
            b.split("check_rating", rating, matches, (-150, 430), no_match="invalid_rating"),
            b.send_message("invalid_rating", text["invalid"], (-560, 660), sent="ask_rating"),
            b.set_variables(
                "thank_promoter",
                {"rating": rating, "sentiment": "promoter"},
                (-150, 660),
                "save_response",
            ),
            b.send_and_wait(
                "ask_reason",
                text["reason"],
                (240, 660),
                reply="set_detractor",
                timeout="set_detractor",
            ),
            b.set_variables(
                "set_detractor",
                {
                    "rating": rating,
                    "sentiment": "detractor",
                    "reason": "{{widgets.ask_reason.inbound.Body}}",
                },
                (240, 890),
                "save_response",
            ),
            b.http_request(
                "save_response",
                "POST",
                f"{self.api}/v1/surveys/responses",
                (0, 1120),
                success=thanks,
                failed=thanks,
                body='{"phone": "{{contact.channel.address}}", '
                '"rating": "{{flow.variables.rating}}", '
                '"sentiment": "{{flow.variables.sentiment}}"}',
            ),
            b.send_message(thanks, text["thanks"], (0, 1350)),
        ]
        if revision >= 2:
            states.append(b.send_message("send_later_note", text["later"], (400, 430)))
        if revision >= 4:
            states.append(
                b.http_request(
                    "opt_out",
                    "POST",
                    f"{self.api}/v1/contacts/opt-out",
                    (-560, 430),
                    success=None,
                    failed=None,
                    body='{"phone": "{{contact.channel.address}}"}',
                )
            )
        return b.definition(states, "Customer satisfaction survey over SMS")


def _survey_parameters(rng: random.Random) -> Json:
    return {
        "first_name": rng.choice(_FIRST_NAMES),
        "customer_id": f"C-{rng.randint(10000, 99999)}",
        "locale": "en-US",
    }


def _spanish_parameters(rng: random.Random) -> Json:
    return {
        "first_name": rng.choice(_SPANISH_NAMES),
        "customer_id": f"ÑC-{rng.randint(1000, 9999)}",
        "locale": "es-ES",
    }


SURVEY: Final = FlowTemplate(
    key="survey",
    friendly_name="SMS Customer Survey",
    build=_SurveyBuilder("en"),
    revisions=5,
    entry_events=(("incomingRequest", 70), ("incomingMessage", 30)),
    parameters=_survey_parameters,
    channel="sms",
    commit_messages=(
        "First version of the NPS survey",
        "Send a note when nobody answers",
        "Rename thank-you widget",
        "Handle STOP replies",
        "Reword the rating question",
    ),
    replies={
        "ask_rating": ("5", "4", "3", "2", "1", "5", "4"),
        "ask_reason": (
            "Faster delivery please",
            "Support took too long to answer",
            "The app keeps logging me out",
            "Prices went up",
        ),
    },
)

SPANISH_SURVEY: Final = FlowTemplate(
    key="encuesta",
    friendly_name="Encuesta de satisfacción \u2013 ñandú",
    build=_SurveyBuilder("es"),
    revisions=4,
    entry_events=(("incomingRequest", 60), ("incomingMessage", 40)),
    parameters=_spanish_parameters,
    channel="es-sms",
    commit_messages=(
        "Primera versión de la encuesta",
        "Aviso cuando no hay respuesta",
        "Renombrar el widget de agradecimiento",
        "Gestionar las bajas",
    ),
    replies={
        "ask_rating": ("5", "4", "3", "2", "1", "cinco"),
        "ask_reason": (
            "El envío tardó demasiado",
            "La atención fue lenta",
            "Más opciones sin gluten, por favor",
        ),
    },
)


def _order_bot(revision: int, refs: Refs) -> Json:
    """Revision 2 lets the contact ask about another order, 3 adds a verified refund
    path through the subflow, 5 (a draft) rewords the greeting."""
    order = "{{widgets.lookup_order.parsed.order_id}}"
    greeting = (
        "Hi, I'm Ava, Acme's order assistant! Reply with your order number (like A-10482)."
        if revision >= 5
        else "Hi! I'm the Acme order assistant. Please reply with your order number "
        "(for example A-10482)."
    )
    after_answer = "ask_anything_else" if revision >= 2 else None
    statuses = [
        ("equal_to", "shipped", "send_shipped"),
        ("equal_to", "processing", "send_processing"),
        ("equal_to", "delivered", "send_delivered"),
    ]
    if revision >= 3:
        statuses.append(("equal_to", "cancelled", "verify_for_refund"))
    states = [
        b.trigger(
            {
                "incomingMessage": "ask_order_number",
                "incomingConversationMessage": "ask_order_number",
                "incomingRequest": "ask_order_number",
            }
        ),
        b.send_and_wait("ask_order_number", greeting, (100, 200), reply="remember_order"),
        b.set_variables(
            "remember_order",
            {"order_ref": "{{widgets.ask_order_number.inbound.Body}}"},
            (100, 430),
            "validate_format",
        ),
        b.split(
            "validate_format",
            "{{flow.variables.order_ref}}",
            [("regex", r"^[A-Za-z]-?\d{4,6}$", "lookup_order")],
            (100, 660),
            no_match="invalid_format",
        ),
        b.send_message(
            "invalid_format",
            "That doesn't look like an order number. They start with a letter followed by "
            "digits, like A-10482.",
            (-300, 660),
            sent="ask_order_number",
        ),
        b.http_request(
            "lookup_order",
            "GET",
            "https://api.acme-shop.example/v2/orders/{{flow.variables.order_ref}}",
            (100, 890),
            success="route_status",
            failed="send_lookup_failed",
        ),
        b.split(
            "route_status",
            "{{widgets.lookup_order.parsed.status}}",
            statuses,
            (100, 1120),
            no_match="send_lookup_failed",
        ),
        b.send_message(
            "send_shipped",
            f"Good news! Order {order} shipped with {{{{widgets.lookup_order.parsed.carrier}}}}"
            " and should arrive by {{widgets.lookup_order.parsed.eta}}.",
            (-400, 1350),
            sent=after_answer,
        ),
        b.send_message(
            "send_processing",
            f"Order {order} is being prepared. We'll text you when it ships.",
            (-50, 1350),
            sent=after_answer,
        ),
        b.send_message(
            "send_delivered", f"Order {order} was delivered. Enjoy!", (300, 1350), sent=after_answer
        ),
        b.send_message(
            "send_lookup_failed",
            "Sorry, we couldn't find that order right now. An agent will text you shortly.",
            (650, 1120),
        ),
    ]
    if revision >= 2:
        states += [
            b.send_and_wait(
                "ask_anything_else",
                "Anything else? Reply with another order number, or DONE to finish.",
                (100, 1580),
                reply="check_done",
            ),
            b.split(
                "check_done",
                "{{widgets.ask_anything_else.inbound.Body}}",
                [("matches_any_of", "done,no,no thanks,thanks,bye", "send_goodbye")],
                (100, 1810),
                no_match="remember_next_order",
            ),
            b.set_variables(
                "remember_next_order",
                {"order_ref": "{{widgets.ask_anything_else.inbound.Body}}"},
                (500, 1810),
                "validate_format",
            ),
            b.send_message("send_goodbye", "Thanks for shopping with Acme!", (100, 2040)),
        ]
    if revision >= 3:
        states += [
            b.run_subflow(
                "verify_for_refund",
                refs.subflow_sid,
                {"phone": "{{contact.channel.address}}", "reason": "refund"},
                (650, 1350),
                completed="check_refund_verified",
                failed="send_lookup_failed",
            ),
            b.split(
                "check_refund_verified",
                "{{widgets.verify_for_refund.verified}}",
                [("equal_to", "true", "send_refund_info")],
                (650, 1580),
                no_match="send_lookup_failed",
            ),
            b.send_message(
                "send_refund_info",
                f"Order {order} was cancelled. Your refund should appear within 5-7 business days.",
                (650, 1810),
                sent=after_answer,
            ),
        ]
    return b.definition(states, "Order status assistant for SMS and WhatsApp")


ORDER_BOT: Final = FlowTemplate(
    key="order_bot",
    friendly_name="Order Status Bot",
    build=_order_bot,
    revisions=5,
    entry_events=(("incomingMessage", 55), ("incomingRequest", 45)),
    parameters=lambda rng: {"source": rng.choice(("website-chat", "sms-keyword", "crm"))},
    channel="sms",
    commit_messages=(
        "Order lookup bot",
        "Let customers ask about several orders",
        "Refunds need a verified contact",
        "Fix regex for order numbers",
        "WIP: friendlier greeting",
    ),
    replies={
        "ask_order_number": ("A-10482", "B20931", "C-55120", "A-77310", "order 123", "A-10933"),
        "ask_anything_else": ("DONE", "no thanks", "B-44102", "A-20113", "done", "thanks"),
        "ask_code": ("482913", "105577", "730214"),
    },
    latest_is_draft=True,
)
