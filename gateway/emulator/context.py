"""Execution contexts, folded from what each step added.

A context is never stored whole per step: a step keeps only its widget's output
and the variables it set, and a context is rebuilt on request. That keeps a
seeded account of 100k steps small and fast to build.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.emulator.records import ExecutionRecord, Json, StepRecord


def base_context(
    *, trigger: Json, parameters: Json, contact_address: str, channel_address: str
) -> Json:
    """The context an execution starts with, before any widget has run."""
    return {
        "trigger": trigger,
        "flow": {"data": parameters, "channel": {"address": channel_address}, "variables": {}},
        "contact": {"channel": {"address": contact_address}},
        "widgets": {},
    }


def fold(base: Json, steps: Iterable[StepRecord]) -> Json:
    """The context after `steps`, applied in order on top of `base`."""
    flow: dict[str, Any] = dict(base["flow"])
    variables: dict[str, Any] = dict(flow.get("variables", {}))
    widgets: dict[str, Any] = dict(base.get("widgets", {}))
    for step in steps:
        if step.widget is not None and step.output is not None:
            widgets[step.widget] = step.output
        if step.variables:
            variables.update(step.variables)
    flow["variables"] = variables
    context = dict(base)
    context["flow"] = flow
    context["widgets"] = widgets
    return context


def execution_context(execution: ExecutionRecord) -> Json:
    """The execution's most recent context."""
    return fold(execution.base_context, execution.steps)


def step_context(execution: ExecutionRecord, step: StepRecord) -> Json:
    """The context as it stood when `step` was recorded."""
    index = execution.steps.index(step)
    return fold(execution.base_context, execution.steps[: index + 1])
