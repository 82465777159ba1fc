"""Named handles on seeded data that tests and demos need to find.

The handles on executions and steps are named tuples, so they unpack:
`flow_sid, execution_sid, to, from_ = handles.active_execution`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class ExecutionHandle(NamedTuple):
    flow_sid: str
    execution_sid: str


class StepHandle(NamedTuple):
    flow_sid: str
    execution_sid: str
    step_sid: str


class ActiveExecutionHandle(NamedTuple):
    """An active execution and the contact pair that blocks another one (409)."""

    flow_sid: str
    execution_sid: str
    to: str
    from_: str


@dataclass(frozen=True, slots=True)
class SeededHandles:
    """Things in a seeded account that tests need by name.

    Attributes:
        survey_flow_sid: "SMS Customer Survey": send-and-wait-for-reply, split-based-on,
            set-variables, make-http-request, send-message; 5 revisions.
        ivr_flow_sid: "IVR Main Menu": make-outgoing-call-v2, say-play,
            gather-input-on-call, connect-call-to, run-function; 60 revisions.
        reminder_flow_sid: "Appointment Reminder", which starts with run-subflow.
        subflow_flow_sid: "Verify Contact (subflow)", run by the reminder (and the
            order bot, when there is one).
        non_ascii_flow_sid: the flow named "Encuesta de satisfacción – ñandú".
        flow_with_many_revisions_sid: the IVR, with more revisions (60) than one
            default page (50).
        draft_pending_flow_sid: the IVR again: its latest revision is a draft while
            earlier ones are published, so LatestRevision differs from LatestPublished.
        execution_without_steps: an ended execution whose step log is empty
            (Twilio's step logs are best-effort).
        subflow_step: a step recorded inside a subflow; its parent_step_sid is set.
        step_with_missing_widget: a step whose transitioned_to names a widget that
            the revision its execution ran on does not have.
        active_execution: an active execution of the survey, with its To and From.
        ended_execution: an ended execution of the reminder (ending it again is a 409).
    """

    survey_flow_sid: str
    ivr_flow_sid: str
    reminder_flow_sid: str
    subflow_flow_sid: str
    non_ascii_flow_sid: str
    flow_with_many_revisions_sid: str
    draft_pending_flow_sid: str
    execution_without_steps: ExecutionHandle
    subflow_step: StepHandle
    step_with_missing_widget: StepHandle
    active_execution: ActiveExecutionHandle
    ended_execution: ExecutionHandle
