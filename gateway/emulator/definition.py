"""Flow definitions: the checks behind error 81022, and a compiled form to run.

Twilio validates a definition against its flow-definition JSON schema and then
checks the graph: widget names are unique, every transition goes to a widget
that exists, and `initial_state` names one. Each failure is reported with the
JSON pointer of the offending value, as in 81022's `details.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MAX_STATES: Final = 1000
_TEMPLATE_WIDGET = re.compile(r"widgets\.([A-Za-z0-9_\-]+)\.")


def validate_definition(definition: Any) -> list[dict[str, str]]:
    """Every reason Twilio would reject `definition`; empty when it is valid."""
    if not isinstance(definition, Mapping):
        return [_failure("#", "must be an object")]
    failures: list[dict[str, str]] = []
    initial = definition.get("initial_state")
    if not isinstance(initial, str) or not initial:
        failures.append(_failure("#/initial_state", "must be a non-empty string"))
    flags = definition.get("flags")
    if flags is not None and not isinstance(flags, Mapping):
        failures.append(_failure("#/flags", "must be an object"))
    states = definition.get("states")
    if not isinstance(states, list):
        failures.append(_failure("#/states", "must be an array"))
        return failures
    if not states:
        failures.append(_failure("#/states", "must NOT have fewer than 1 items"))
    if len(states) > MAX_STATES:
        failures.append(_failure("#/states", f"must NOT have more than {MAX_STATES} items"))
    names: dict[str, int] = {}
    for index, state in enumerate(states):
        failures.extend(_check_state(index, state, names))
    for index, state in enumerate(states):
        if not isinstance(state, Mapping) or not isinstance(state.get("transitions"), list):
            continue
        for t_index, transition in enumerate(state["transitions"]):
            target = transition.get("next") if isinstance(transition, Mapping) else None
            if isinstance(target, str) and target and target not in names:
                failures.append(
                    _failure(
                        f"#/states/{index}/transitions/{t_index}/next",
                        f"transitions to widget '{target}', which does not exist",
                    )
                )
    if isinstance(initial, str) and initial and initial not in names:
        failures.append(
            _failure("#/initial_state", f"names widget '{initial}', which does not exist")
        )
    return failures


def _check_state(index: int, state: Any, names: dict[str, int]) -> list[dict[str, str]]:
    pointer = f"#/states/{index}"
    if not isinstance(state, Mapping):
        return [_failure(pointer, "must be an object")]
    failures: list[dict[str, str]] = []
    name = state.get("name")
    if not isinstance(name, str) or not name:
        failures.append(_failure(f"{pointer}/name", "must be a non-empty string"))
    elif name in names:
        failures.append(
            _failure(
                f"{pointer}/name",
                f"duplicate widget name '{name}' (also at #/states/{names[name]})",
            )
        )
    else:
        names[name] = index
    if not isinstance(state.get("type"), str) or not state.get("type"):
        failures.append(_failure(f"{pointer}/type", "must be a non-empty string"))
    transitions = state.get("transitions")
    if not isinstance(transitions, list):
        failures.append(_failure(f"{pointer}/transitions", "must be an array"))
    else:
        for t_index, transition in enumerate(transitions):
            t_pointer = f"{pointer}/transitions/{t_index}"
            if not isinstance(transition, Mapping):
                failures.append(_failure(t_pointer, "must be an object"))
            elif not isinstance(transition.get("event"), str):
                failures.append(_failure(f"{t_pointer}/event", "must be a string"))
    properties = state.get("properties")
    if properties is not None and not isinstance(properties, Mapping):
        failures.append(_failure(f"{pointer}/properties", "must be an object"))
    return failures


def _failure(pointer: str, message: str) -> dict[str, str]:
    return {"message": message, "property_path": pointer}


@dataclass(frozen=True, slots=True)
class Transition:
    event: str
    next: str | None
    conditions: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Widget:
    name: str
    type: str
    properties: Mapping[str, Any]
    transitions: tuple[Transition, ...]

    def next_for(self, event: str) -> str | None:
        return next((t.next for t in self.transitions if t.event == event), None)

    def has_event(self, event: str) -> bool:
        return any(t.event == event for t in self.transitions)


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    """A valid definition, indexed for running."""

    initial_state: str
    widgets: Mapping[str, Widget]
    # Values the splits test against each widget's reply, so a simulated contact
    # can answer something a split recognises.
    reply_candidates: Mapping[str, tuple[str, ...]]


def compile_definition(definition: Mapping[str, Any]) -> CompiledFlow:
    """Index a definition that `validate_definition` accepted."""
    widgets: dict[str, Widget] = {}
    for state in definition["states"]:
        transitions = tuple(
            Transition(
                event=str(t["event"]),
                next=t.get("next") or None,
                conditions=tuple(t.get("conditions") or ()),
            )
            for t in state["transitions"]
        )
        widgets[state["name"]] = Widget(
            name=state["name"],
            type=state["type"],
            properties=state.get("properties") or {},
            transitions=transitions,
        )
    return CompiledFlow(
        initial_state=definition["initial_state"],
        widgets=widgets,
        reply_candidates=_reply_candidates(widgets),
    )


def _reply_candidates(widgets: Mapping[str, Widget]) -> dict[str, tuple[str, ...]]:
    candidates: dict[str, list[str]] = {}
    for widget in widgets.values():
        if widget.type != "split-based-on":
            continue
        match = _TEMPLATE_WIDGET.search(str(widget.properties.get("input", "")))
        if match is None:
            continue
        values = candidates.setdefault(match.group(1), [])
        for transition in widget.transitions:
            for condition in transition.conditions:
                kind = condition.get("type")
                value = str(condition.get("value", ""))
                if kind in ("equal_to", "starts_with", "contains"):
                    values.append(value)
                elif kind == "matches_any_of":
                    values.extend(part.strip() for part in value.split(",") if part.strip())
    return {name: tuple(dict.fromkeys(values)) for name, values in candidates.items() if values}
