"""The object types: Flow, FlowRevision, Execution, ExecutionStep.

Each object wraps the upstream record it came from, or, where a parent only
knows its SIDs (`execution.flow`, `step.execution`), nothing yet: its fields
then load the record through the request's loaders, once, on first need. A
field that its object already holds (`sid`, `flowSid`) never costs a call.
Resolvers only ask loaders; they never call the client or build URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import strawberry
from strawberry.types.base import get_object_definition

from gateway import studio
from gateway.graphql import ids
from gateway.graphql.connections import PAGES, Connection, paginate
from gateway.graphql.context import Info
from gateway.graphql.errors import bad_input, load
from gateway.graphql.fields import RecordFields, field, identity, later
from gateway.graphql.filters import execution_filters, executions_list_id
from gateway.graphql.flow_fields import CONTEXT, CREATED, UPDATED, FlowFields
from gateway.graphql.policy import ONE_CALL, STUB, SUMMARY, Price, Record
from gateway.graphql.scalars import JSON, ExecutionStatus, RevisionAlias
from gateway.graphql.scopes import EXECUTION_DATA, FLOW_DATA
from gateway.graphql.widgets import Widget, widget_named
from gateway.security.principal import EXECUTIONS_READ, FLOWS_READ, PII_READ

V = TypeVar("V")

_flow = RecordFields[studio.Flow](FLOW_DATA)
_execution = RecordFields[studio.Execution](EXECUTION_DATA)
_step = RecordFields[studio.ExecutionStep](EXECUTION_DATA, holds=True)
#: The widgets of the revision a step's execution ran on: that revision, read once
#: per execution, and the execution's record that names it.
_REVISION_RAN: Final = Price(weight=1, per_owner="Execution")


@strawberry.interface(description="An object with a global id that `node(id:)` can fetch.")
class Node:
    @identity(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError


# -- flows --------------------------------------------------------------------


@strawberry.type(description="A Studio flow: widgets and transitions, with revisions and runs.")
class Flow(FlowFields, Node):
    record: strawberry.Private[studio.Flow | None] = None

    @classmethod
    async def fetch(cls, info: Info, path: tuple[str, ...]) -> Flow:
        """The flow at `path` (a global id's): (its SID,)."""
        record = await load(info.context.loaders.flow.load(path[0]), f"flow {path[0]}")
        return cls(flow_sid=record.sid, record=record)

    def _get(self, info: Info, read: Callable[[studio.Flow], V], whole: bool = False) -> V:
        # Sync when the record is here, so long lists stay cheap; else one load.
        record = self.record
        if record is not None and not (whole and record.partial):
            return read(record)
        return later(self._load(info, read, whole))

    async def _load(self, info: Info, read: Callable[[studio.Flow], V], whole: bool) -> V:
        loaders = info.context.loaders
        what = f"flow {self.flow_sid}"
        if whole:
            record = await load(loaders.flow.load(self.flow_sid), what)
        else:
            record = await load(loaders.flow_summary(self.flow_sid), what)
        return read(record)

    @identity(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("Flow", self.flow_sid))

    revision: int | None = _flow(
        lambda r: r.revision, description="The latest revision number of the Flow's definition."
    )
    warnings: JSON | None = _flow(
        lambda r: JSON(r.warnings),
        description="List of warnings in the flow definition.",
        whole=True,
    )
    webhook_url: str | None = _flow(
        lambda r: r.webhook_url,
        description="The URL Twilio posts to for this flow's webhook trigger.",
    )

    @field(
        description=(
            "Identities allowed to test the flow's draft revision (phone numbers among "
            "them: needs pii:read)."
        ),
        scopes=FLOW_DATA.also(PII_READ),
        price=ONE_CALL,
    )
    async def test_users(self, info: Info) -> list[str] | None:
        users = await load(info.context.loaders.test_users.load(self.flow_sid), "test users")
        return list(users.test_users)

    @field(description="The flow's revisions, newest first.", scopes=FLOW_DATA, price=PAGES)
    async def revisions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[FlowRevision] | None:
        return await paginate(
            info.context.loaders.revisions_page,
            (self.flow_sid,),
            "revisions",
            lambda r: FlowRevision(flow_sid=self.flow_sid, number=r.revision, record=r),
            list_id=f"revisions:{self.flow_sid}",
            first=first,
            after=after,
        )

    @field(
        description=(
            "One revision of the flow: by `number`, or by `latest` (LATEST_PUBLISHED, "
            "LATEST_REVISION). Give exactly one."
        ),
        scopes=FLOW_DATA,
        price=ONE_CALL,
    )
    async def flow_revision(
        self, info: Info, number: int | None = None, latest: RevisionAlias | None = None
    ) -> FlowRevision | None:
        if (number is None) == (latest is None):
            raise bad_input("give exactly one of number and latest")
        if number is not None and number < 1:
            raise bad_input("revision numbers start at 1")
        ref = latest.value if latest is not None else str(number)
        record = await load(
            info.context.loaders.flow_revision.load((self.flow_sid, ref)),
            f"revision {ref} of flow {self.flow_sid}",
        )
        return FlowRevision(flow_sid=self.flow_sid, number=record.revision, record=record)

    @field(
        description="The flow's executions, most recent first.",
        scopes=FLOW_DATA.also(EXECUTIONS_READ),
        price=PAGES,
    )
    async def executions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ExecutionStatus | None = None,
        date_created_from: datetime | None = None,
        date_created_to: datetime | None = None,
    ) -> Connection[Execution] | None:
        filters = execution_filters(status, date_created_from, date_created_to)
        return await paginate(
            info.context.loaders.executions_page,
            (self.flow_sid,),
            "executions",
            lambda e: Execution(flow_sid=self.flow_sid, execution_sid=e.sid, record=e),
            list_id=executions_list_id(self.flow_sid, filters),
            first=first,
            after=after,
            filters=filters,
        )


@strawberry.type(description="A revision of a flow: its definition as it was at that number.")
class FlowRevision(FlowFields, Node):
    number: strawberry.Private[int]
    record: strawberry.Private[studio.FlowRevision]

    @classmethod
    async def fetch(cls, info: Info, path: tuple[str, ...]) -> FlowRevision:
        """The revision at `path`: (its flow's SID, its number)."""
        record = await load(
            info.context.loaders.flow_revision.load((path[0], path[1])),
            f"revision {path[1]} of flow {path[0]}",
        )
        return cls(flow_sid=path[0], number=record.revision, record=record)

    def _get(self, info: Info, read: Callable[[studio.FlowRevision], V], whole: bool = False) -> V:
        if not (whole and self.record.partial):
            return read(self.record)
        return later(self._load(info, read))

    async def _load(self, info: Info, read: Callable[[studio.FlowRevision], V]) -> V:
        record = await load(
            info.context.loaders.flow_revision.load((self.flow_sid, str(self.number))),
            f"revision {self.number} of flow {self.flow_sid}",
        )
        return read(record)

    @identity(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("FlowRevision", self.flow_sid, self.number))

    @field(
        description="The revision number of the Flow's definition.", scopes=FLOW_DATA, price=SUMMARY
    )
    def revision(self) -> int:
        return self.record.revision

    @field(description="The flow this is a revision of.", scopes=FLOW_DATA, price=STUB)
    def flow(self) -> Flow:
        return Flow(flow_sid=self.flow_sid)


# -- executions ---------------------------------------------------------------


@strawberry.type(description="One run of a flow for one contact.")
class Execution(Node):
    flow_sid: strawberry.Private[str]
    execution_sid: strawberry.Private[str]
    record: strawberry.Private[studio.Execution | None] = None

    @classmethod
    async def fetch(cls, info: Info, path: tuple[str, ...]) -> Execution:
        """The execution at `path`: (its flow's SID, its own)."""
        key = (path[0], path[1])
        record = await load(info.context.loaders.execution.load(key), f"execution {path[1]}")
        return cls(flow_sid=path[0], execution_sid=record.sid, record=record)

    def _get(self, info: Info, read: Callable[[studio.Execution], V]) -> V:
        if self.record is not None:
            return read(self.record)
        return later(self._load(info, read))

    async def _load(self, info: Info, read: Callable[[studio.Execution], V]) -> V:
        return read(await self.load_record(info))

    async def load_record(self, info: Info) -> studio.Execution:
        if self.record is not None:
            return self.record
        return await load(
            info.context.loaders.execution.load((self.flow_sid, self.execution_sid)),
            f"execution {self.execution_sid}",
        )

    @identity(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("Execution", self.flow_sid, self.execution_sid))

    @identity(description="The unique string that we created to identify the Execution resource.")
    def sid(self) -> str:
        return self.execution_sid

    account_sid: str | None = _execution(
        lambda r: r.account_sid,
        description="The SID of the Account that created the Execution resource.",
    )

    @identity(name="flowSid", description="The SID of the Flow.")
    def flow_sid_field(self) -> str:
        return self.flow_sid

    contact_channel_address: str | None = _execution(
        lambda r: r.contact_channel_address,
        description=(
            "The phone number, SIP address or Client identifier that triggered the Execution. "
            "Phone numbers are in E.164 format (e.g. +16175551212). SIP addresses are formatted "
            "as `name@company.com`. Client identifiers are formatted `client:name`."
        ),
        scopes=EXECUTION_DATA.also(PII_READ),
    )
    contact_sid: str | None = _execution(
        lambda r: r.contact_sid, description="The SID of the Contact."
    )
    flow_version: int | None = _execution(
        lambda r: r.flow_version,
        description="The Flow version number at the time of Execution creation.",
    )
    status: ExecutionStatus | None = _execution(
        lambda r: ExecutionStatus(r.status.value),
        description="Whether the execution is still running.",
    )
    initiated_by: str | None = _execution(
        lambda r: r.initiated_by,
        description=(
            "The SID or identifier that triggered this Execution. For example, a Call SID if "
            "triggered by an incoming call, a Message SID if triggered by an incoming message, "
            "a Request SID if triggered by a REST API request, and so on."
        ),
    )
    date_created: datetime | None = _execution(lambda r: r.date_created, description=CREATED)
    date_updated: datetime | None = _execution(lambda r: r.date_updated, description=UPDATED)
    url: str | None = _execution(lambda r: r.url, description="The absolute URL of the resource.")

    @field(
        description=CONTEXT + " Read from the execution's Context resource.",
        scopes=EXECUTION_DATA.also(PII_READ),
        price=ONE_CALL,
    )
    async def context(self, info: Info) -> JSON | None:
        context = await load(
            info.context.loaders.execution_context.load((self.flow_sid, self.execution_sid)),
            f"the context of execution {self.execution_sid}",
        )
        return context.context

    @field(
        description="The flow this execution runs.",
        scopes=EXECUTION_DATA.also(FLOWS_READ),
        price=STUB,
    )
    def flow(self) -> Flow | None:
        return Flow(flow_sid=self.flow_sid)

    @field(
        description="The revision of the flow this execution ran on.",
        scopes=EXECUTION_DATA.also(FLOWS_READ),
        # The revision's fetch, and the execution's record that names it.
        price=Price(weight=1, record=Record.SUMMARY),
    )
    async def flow_revision(self, info: Info) -> FlowRevision | None:
        record = await self.revision_ran(info)
        if record is None:
            return None
        return FlowRevision(flow_sid=self.flow_sid, number=record.revision, record=record)

    async def revision_ran(self, info: Info) -> studio.FlowRevision | None:
        """The revision of its flow the execution ran on, as its record names it (None
        when it names none)."""
        version = (await self.load_record(info)).flow_version
        if version is None:
            return None
        return await load(
            info.context.loaders.flow_revision.load((self.flow_sid, str(version))),
            f"revision {version} of flow {self.flow_sid}",
        )

    @field(
        description="The execution's steps, most recent first.", scopes=EXECUTION_DATA, price=PAGES
    )
    async def steps(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ExecutionStep] | None:
        return await paginate(
            info.context.loaders.steps_page,
            (self.flow_sid, self.execution_sid),
            "steps",
            lambda s: ExecutionStep(
                flow_sid=self.flow_sid, execution_sid=self.execution_sid, step_sid=s.sid, record=s
            ),
            list_id=f"steps:{self.flow_sid}:{self.execution_sid}",
            first=first,
            after=after,
        )


@strawberry.type(description="One widget an execution ran through.")
class ExecutionStep(Node):
    flow_sid: strawberry.Private[str]
    execution_sid: strawberry.Private[str]
    step_sid: strawberry.Private[str]
    record: strawberry.Private[studio.ExecutionStep]

    @classmethod
    async def fetch(cls, info: Info, path: tuple[str, ...]) -> ExecutionStep:
        """The step at `path`: (its flow's SID, its execution's, its own)."""
        key = (path[0], path[1], path[2])
        record = await load(info.context.loaders.step.load(key), f"step {path[2]}")
        return cls(flow_sid=path[0], execution_sid=path[1], step_sid=record.sid, record=record)

    @identity(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(
            ids.encode("ExecutionStep", self.flow_sid, self.execution_sid, self.step_sid)
        )

    @identity(
        description="The unique string that we created to identify the ExecutionStep resource."
    )
    def sid(self) -> str:
        return self.step_sid

    account_sid: str | None = _step(
        lambda r: r.account_sid,
        description="The SID of the Account that created the ExecutionStep resource.",
    )

    @identity(name="flowSid", description="The SID of the Flow.")
    def flow_sid_field(self) -> str:
        return self.flow_sid

    @identity(name="executionSid", description="The SID of the Step's Execution resource.")
    def execution_sid_field(self) -> str:
        return self.execution_sid

    parent_step_sid: str | None = _step(
        lambda r: r.parent_step_sid, description="The SID of the parent Step."
    )
    name: str | None = _step(
        lambda r: r.name, description="The event that caused the Flow to transition to the Step."
    )
    transitioned_from: str | None = _step(
        lambda r: r.transitioned_from,
        description="The Widget that preceded the Widget for the Step.",
    )
    transitioned_to: str | None = _step(
        lambda r: r.transitioned_to,
        description="The Widget that will follow the Widget for the Step.",
    )
    type: str | None = _step(
        lambda r: r.type, description="The type of the widget that was executed."
    )
    date_created: datetime | None = _step(lambda r: r.date_created, description=CREATED)
    date_updated: datetime | None = _step(lambda r: r.date_updated, description=UPDATED)
    url: str | None = _step(lambda r: r.url, description="The absolute URL of the resource.")

    @field(
        description=CONTEXT + " Read from the step's Context resource.",
        scopes=EXECUTION_DATA.also(PII_READ),
        price=ONE_CALL,
    )
    async def context(self, info: Info) -> JSON | None:
        context = await load(
            info.context.loaders.step_context.load(
                (self.flow_sid, self.execution_sid, self.step_sid)
            ),
            f"the context of step {self.step_sid}",
        )
        return context.context

    @field(description="The execution this step belongs to.", scopes=EXECUTION_DATA, price=STUB)
    def execution(self) -> Execution:
        return Execution(flow_sid=self.flow_sid, execution_sid=self.execution_sid)

    @field(
        description="The flow this step's execution runs.",
        scopes=EXECUTION_DATA.also(FLOWS_READ),
        price=STUB,
    )
    def flow(self) -> Flow | None:
        return Flow(flow_sid=self.flow_sid)

    @field(
        description="The step that started this one's subflow; null for a top-level step.",
        scopes=EXECUTION_DATA,
        price=ONE_CALL,
    )
    async def parent_step(self, info: Info) -> ExecutionStep | None:
        parent = self.record.parent_step_sid
        if not parent or not studio.is_sid("FT", parent):
            return None
        record = await load(
            info.context.loaders.step.load((self.flow_sid, self.execution_sid, parent)),
            f"step {parent}",
        )
        return ExecutionStep(
            flow_sid=self.flow_sid,
            execution_sid=self.execution_sid,
            step_sid=record.sid,
            record=record,
        )

    @field(
        description=(
            "The widget the execution moved from, as the revision it ran on defines it; "
            "null when that revision has no widget of that name."
        ),
        scopes=EXECUTION_DATA.also(FLOWS_READ),
        price=_REVISION_RAN,
    )
    async def from_widget(self, info: Info) -> Widget | None:
        return widget_named(await self._definition(info), self.record.transitioned_from)

    @field(
        description=(
            "The widget the execution moved to, as the revision it ran on defines it; "
            "null when that revision has no widget of that name (or the execution ended)."
        ),
        scopes=EXECUTION_DATA.also(FLOWS_READ),
        price=_REVISION_RAN,
    )
    async def to_widget(self, info: Info) -> Widget | None:
        return widget_named(await self._definition(info), self.record.transitioned_to)

    async def _definition(self, info: Info) -> Any:
        execution = Execution(flow_sid=self.flow_sid, execution_sid=self.execution_sid)
        revision = await execution.revision_ran(info)
        return revision.definition if revision is not None else None


#: The types `node(id:)` answers, in the order of `ids.PATHS`, which names them.
NODE_TYPES: Final = (Flow, FlowRevision, Execution, ExecutionStep)
#: Each by its GraphQL name, as a global id names it.
NODES: Final = {get_object_definition(t, strict=True).name: t for t in NODE_TYPES}
