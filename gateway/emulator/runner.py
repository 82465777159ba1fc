"""Running a flow: walking a definition widget by widget and recording the steps.

A run starts at the definition's `initial_state` (the trigger), leaves it by the
trigger event (`incomingRequest` for the REST API), and then lets each widget
pick its way out. Each transition is one step. A run stops at the end of the
flow, at a widget that waits for the contact (unless it replays seeded history,
where the contact answers or the wait times out), or at the step limit.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from gateway.emulator import sids
from gateway.emulator.definition import CompiledFlow, Widget
from gateway.emulator.records import Json, StepRecord
from gateway.emulator.widgets import WAITING_TYPES, WidgetEnv, perform

# Studio ends an execution after 1,000 steps.
MAX_STEPS: Final = 1000
_MAX_SUBFLOW_DEPTH: Final = 5

SubflowResolver = Callable[[str, Any], CompiledFlow | None]


class RunOutcome(enum.Enum):
    ENDED = "ended"
    WAITING = "waiting"
    CAPPED = "capped"


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How a run behaves; the defaults are those of an execution made over REST."""

    max_steps: int = MAX_STEPS
    # Replaying history: contacts answer (or waits time out) instead of the run stopping.
    resolve_waits: bool = False
    # While replaying, the chance that a wait is still pending (the execution stays active).
    pending_wait_chance: float = 0.0
    # Replies the seeded contacts give, by widget name.
    replies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Replaying history: steps are seconds or minutes apart, never later than `latest`.
    paced: bool = False
    latest: datetime | None = None


@dataclass(slots=True)
class RunResult:
    steps: list[StepRecord]
    outcome: RunOutcome
    finished_at: datetime


class FlowRun:
    """One execution's walk through a compiled flow."""

    def __init__(
        self,
        flow: CompiledFlow,
        *,
        base_context: Json,
        entry_event: str,
        started_at: datetime,
        rng: random.Random,
        sid_factory: sids.SidFactory,
        next_seq: Callable[[], int],
        subflows: SubflowResolver,
        settings: RunSettings,
    ) -> None:
        self._flow = flow
        self._entry_event = entry_event
        self._now = started_at
        self._rng = rng
        self._sids = sid_factory
        self._next_seq = next_seq
        self._subflows = subflows
        self._settings = settings
        self._steps: list[StepRecord] = []
        flow_part = dict(base_context["flow"])
        flow_part["variables"] = dict(flow_part.get("variables", {}))
        self._context: Json = {**base_context, "flow": flow_part, "widgets": {}}

    def run(self) -> RunResult:
        outcome = self._walk(self._flow, self._entry_event, parent_step_sid=None, depth=0)
        return RunResult(steps=self._steps, outcome=outcome, finished_at=self._now)

    def resume(self, widget: str, widgets: Json | None = None) -> RunResult:
        """Go on from `widget`, where an execution waits; `widgets`: what earlier steps
        put in the context. The steps made are only the new ones."""
        self._context["widgets"] = dict(widgets or {})
        outcome = self._continue(self._flow, widget, parent_step_sid=None, depth=0)
        return RunResult(steps=self._steps, outcome=outcome, finished_at=self._now)

    def _walk(
        self, flow: CompiledFlow, entry_event: str, *, parent_step_sid: str | None, depth: int
    ) -> RunOutcome:
        if len(self._steps) >= self._settings.max_steps:
            return RunOutcome.CAPPED
        trigger = flow.widgets[flow.initial_state]
        current = self._record(trigger, entry_event, trigger.next_for(entry_event), parent_step_sid)
        return self._continue(flow, current, parent_step_sid=parent_step_sid, depth=depth)

    def _continue(
        self, flow: CompiledFlow, current: str | None, *, parent_step_sid: str | None, depth: int
    ) -> RunOutcome:
        while current is not None:
            if len(self._steps) >= self._settings.max_steps:
                return RunOutcome.CAPPED
            widget = flow.widgets.get(current)
            if widget is None:
                return RunOutcome.ENDED
            if widget.type == "run-subflow":
                outcome, event, output = self._subflow(widget, depth)
                if outcome is not RunOutcome.ENDED:
                    return outcome
                if len(self._steps) >= self._settings.max_steps:
                    return RunOutcome.CAPPED
                current = self._record(
                    widget, event, widget.next_for(event), parent_step_sid, output=output
                )
                continue
            if widget.type in WAITING_TYPES and self._stops_at_wait():
                return RunOutcome.WAITING
            env = WidgetEnv(self._context, self._rng, self._sids, flow, self._settings.replies)
            performance = perform(widget, env)
            self._advance(performance.waited_seconds)
            target = (
                performance.transition.next
                if performance.transition is not None
                else widget.next_for(performance.event)
            )
            current = self._record(
                widget,
                performance.event,
                target,
                parent_step_sid,
                output=performance.output,
                variables=performance.variables,
            )
        return RunOutcome.ENDED

    def _stops_at_wait(self) -> bool:
        if not self._settings.resolve_waits:
            return True
        return self._rng.random() < self._settings.pending_wait_chance

    def _subflow(self, widget: Widget, depth: int) -> tuple[RunOutcome, str, Json]:
        """Run a run-subflow widget's flow; its steps name the step that started it."""
        flow_sid = str(widget.properties.get("flow_sid", ""))
        subflow = None
        if depth < _MAX_SUBFLOW_DEPTH:
            subflow = self._subflows(flow_sid, widget.properties.get("flow_revision"))
        if subflow is None:
            return RunOutcome.ENDED, "failed", {"status": "failed", "flow_sid": flow_sid}
        variables_before = dict(self._context["flow"]["variables"])
        starter = self._steps[-1].sid if self._steps else None
        outcome = self._walk(subflow, "incomingParent", parent_step_sid=starter, depth=depth + 1)
        returned = {
            key: value
            for key, value in self._context["flow"]["variables"].items()
            if variables_before.get(key) != value
        }
        return outcome, "completed", {"status": "completed", "flow_sid": flow_sid, **returned}

    def _advance(self, seconds: int) -> None:
        if not self._settings.paced:
            return
        later = self._now + timedelta(seconds=seconds + self._rng.randint(0, 2))
        latest = self._settings.latest
        self._now = later if latest is None or later <= latest else max(self._now, latest)

    def _record(
        self,
        widget: Widget,
        event: str,
        target: str | None,
        parent_step_sid: str | None,
        *,
        output: Json | None = None,
        variables: dict[str, str] | None = None,
    ) -> str | None:
        self._steps.append(
            StepRecord(
                sid=self._sids.new(sids.STEP),
                name=event,
                transitioned_from=widget.name,
                transitioned_to=target or "Ended",
                type=widget.type,
                date_created=self._now,
                seq=self._next_seq(),
                parent_step_sid=parent_step_sid,
                widget=widget.name if output is not None else None,
                output=output,
                variables=variables or None,
            )
        )
        if output is not None:
            self._context["widgets"][widget.name] = output
        if variables:
            self._context["flow"]["variables"].update(variables)
        return target
