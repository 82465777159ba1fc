"""Widgets: the states of a flow definition, read leniently.

A definition is the caller's JSON, stored by Twilio as given; whatever is not
shaped like a widget or a transition is skipped, never fatal.
"""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.graphql.scalars import JSON


@strawberry.type(description="Where a widget goes next on an event.")
class WidgetTransition:
    event: str = strawberry.field(description="The event, e.g. `incomingMessage` or `noMatch`.")
    next: str | None = strawberry.field(
        description="The widget it leads to; null when the execution ends there."
    )
    conditions: JSON | None = strawberry.field(
        description="For `split-based-on` matches: the conditions that pick this transition."
    )


@strawberry.type(description="One state of a flow definition: a widget and its transitions.")
class Widget:
    name: str = strawberry.field(description="The widget's name, unique in its definition.")
    type: str = strawberry.field(description="The widget type, e.g. `send-and-wait-for-reply`.")
    properties: JSON = strawberry.field(description="The widget's configuration.")
    transitions: list[WidgetTransition]


def widgets_of(definition: Any) -> list[Widget]:
    """The states of a definition; whatever is not shaped like one is skipped, never fatal."""
    states = definition.get("states") if isinstance(definition, dict) else None
    widgets = []
    for state in states if isinstance(states, list) else []:
        if not isinstance(state, dict) or not isinstance(state.get("name"), str):
            continue
        transitions = state.get("transitions")
        properties = state.get("properties")
        widgets.append(
            Widget(
                name=state["name"],
                type=str(state.get("type") or ""),
                properties=JSON(properties if isinstance(properties, dict) else {}),
                transitions=[
                    WidgetTransition(
                        event=str(t.get("event") or ""),
                        next=t.get("next") if isinstance(t.get("next"), str) else None,
                        conditions=t.get("conditions"),
                    )
                    for t in (transitions if isinstance(transitions, list) else [])
                    if isinstance(t, dict)
                ],
            )
        )
    return widgets


def widget_named(definition: Any, name: str | None) -> Widget | None:
    if not name:
        return None
    return next((w for w in widgets_of(definition) if w.name == name), None)
