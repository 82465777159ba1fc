"""The in-memory records behind every resource, one dataclass per Studio resource.

Tests reach them through `Emulator.account(sid).flows`; handlers render them with
`render.py`. Sort keys are `(unix seconds, seq)`: `seq` is a per-account counter,
so two rows made in the same second still have a fixed, total order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.emulator.definition import CompiledFlow, compile_definition

SortKey = tuple[int, int]
Json = dict[str, Any]


@dataclass(slots=True, eq=False)
class RevisionRecord:
    """One saved version of a flow. Its definition never changes once saved."""

    revision: int
    friendly_name: str
    definition: Json
    status: str
    commit_message: str | None
    author_sid: str
    date_created: datetime
    date_updated: datetime | None = None
    _compiled: CompiledFlow | None = field(default=None, repr=False)

    def compiled(self) -> CompiledFlow:
        if self._compiled is None:
            self._compiled = compile_definition(self.definition)
        return self._compiled


@dataclass(slots=True, eq=False)
class StepRecord:
    """One transition of an execution: `transitioned_from` ran and `name` took it on.

    `widget`, `output` and `variables` are what the step added to the execution's
    context; a step's context is the fold of its own and earlier additions.
    """

    sid: str
    name: str
    transitioned_from: str
    transitioned_to: str
    type: str
    date_created: datetime
    seq: int
    parent_step_sid: str | None = None
    date_updated: datetime | None = None
    widget: str | None = None
    output: Json | None = None
    variables: dict[str, str] | None = None

    @property
    def sort_key(self) -> SortKey:
        return (int(self.date_created.timestamp()), self.seq)


@dataclass(slots=True, eq=False)
class ExecutionRecord:
    """One run of a flow for one contact."""

    sid: str
    account_sid: str
    flow_sid: str
    contact_channel_address: str
    channel_address: str
    contact_sid: str
    flow_version: int
    status: str
    initiated_by: str
    date_created: datetime
    seq: int
    base_context: Json
    date_updated: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def sort_key(self) -> SortKey:
        return (int(self.date_created.timestamp()), self.seq)

    def step(self, sid: str) -> StepRecord | None:
        return next((step for step in self.steps if step.sid == sid), None)


@dataclass(slots=True, eq=False)
class FlowRecord:
    """A flow: its revisions (oldest first), test users and executions.

    The flow's own fields are those of its latest revision, as in Twilio.
    """

    sid: str
    account_sid: str
    date_created: datetime
    seq: int
    revisions: list[RevisionRecord]
    date_updated: datetime | None = None
    test_users: list[str] = field(default_factory=list)
    executions: dict[str, ExecutionRecord] = field(default_factory=dict)

    @property
    def sort_key(self) -> SortKey:
        return (int(self.date_created.timestamp()), self.seq)

    @property
    def latest(self) -> RevisionRecord:
        return self.revisions[-1]

    @property
    def friendly_name(self) -> str:
        return self.latest.friendly_name

    @property
    def status(self) -> str:
        return self.latest.status

    @property
    def definition(self) -> Json:
        return self.latest.definition

    @property
    def revision(self) -> int:
        return self.latest.revision

    def find_revision(self, number: int) -> RevisionRecord | None:
        if 1 <= number <= len(self.revisions):
            return self.revisions[number - 1]
        return None

    def latest_published(self) -> RevisionRecord | None:
        return next((rev for rev in reversed(self.revisions) if rev.status == "published"), None)

    def active_execution_for(self, to: str, from_: str) -> ExecutionRecord | None:
        for execution in self.executions.values():
            if (
                execution.status == "active"
                and execution.contact_channel_address == to
                and execution.channel_address == from_
            ):
                return execution
        return None
