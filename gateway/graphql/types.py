"""The object types: Flow, FlowRevision, Execution, ExecutionStep, Widget.

Each object wraps the upstream record it came from, or, where a parent only
knows its SIDs (`execution.flow`, `step.execution`), nothing yet: its fields
then load the record through the request's loaders, once, on first need. A
field that its object already holds (`sid`, `flowSid`) never costs a call.
Resolvers only ask loaders; they never call the client or build URLs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final, TypeVar, cast

import strawberry
from strawberry.types.nodes import SelectedField

from gateway import studio
from gateway.graphql import ids
from gateway.graphql.connections import Connection, first_page, paginate
from gateway.graphql.context import Info
from gateway.graphql.errors import GatewayError, bad_input, load
from gateway.graphql.fields import field
from gateway.graphql.filters import execution_filters, executions_list_id
from gateway.graphql.scalars import JSON, ExecutionStatus, FlowStatus, RevisionAlias
from gateway.graphql.scopes import ExecutionsRead, FlowsRead, PiiRead, principal
from gateway.loaders import PageKey
from gateway.security.principal import EXECUTIONS_READ, PII_READ

V = TypeVar("V")

_CREATED = "The date and time in GMT when the resource was created specified in ISO 8601 format."
_UPDATED = (
    "The date and time in GMT when the resource was last updated specified in ISO 8601 format."
)
_CONTEXT = (
    "The current state of the Flow's Execution. As a flow executes, we save its state in "
    "this context. We save data that your widgets can access as variables in configuration "
    "fields or in text areas as variable substitution."
)


@strawberry.interface(description="An object with a global id that `node(id:)` can fetch.")
class Node:
    @field(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError


# -- widgets ------------------------------------------------------------------


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


# -- flows --------------------------------------------------------------------


@strawberry.type(description="A validation answer for a flow definition.")
class FlowValidation:
    valid: bool = strawberry.field(description="Boolean if the flow definition is valid.")
    errors: JSON | None = strawberry.field(
        description="When invalid: Twilio's list of what is wrong (error 81022's details)."
    )


#: What `_FlowFields` reads its spec fields from.
FlowRecord = studio.Flow | studio.FlowRevision


@strawberry.type(description="What a flow and each of its revisions share.")
class _FlowFields:
    """The spec fields a Flow and a FlowRevision have alike. Each subclass says, in
    `_get`, how to read one: at once from its record, or by loading the object."""

    flow_sid: strawberry.Private[str]

    def _get(self, info: Info, read: Callable[[FlowRecord], V], whole: bool = False) -> V:
        """`read` of the record; `whole` when a list's abridged record will not do."""
        raise NotImplementedError

    @field(description="The unique string that we created to identify the Flow resource.")
    def sid(self) -> str:
        return self.flow_sid

    @field(description="The SID of the Account that created the Flow resource.")
    def account_sid(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.account_sid)

    @field(description="The SID of the User that created or last updated the Flow.")
    def author_sid(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.author_sid)

    @field(description="The string that you assigned to describe the Flow.")
    def friendly_name(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.friendly_name)

    @field(description="JSON representation of flow definition.")
    def definition(self, info: Info) -> JSON | None:
        return self._get(info, lambda r: JSON(r.definition), whole=True)

    @field(description="Whether it is a draft or published.")
    def status(self, info: Info) -> FlowStatus | None:
        return self._get(info, lambda r: FlowStatus(r.status.value))

    @field(description="Description of change made in the revision.")
    def commit_message(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.commit_message, whole=True)

    @field(description="Boolean if the flow definition is valid.")
    def valid(self, info: Info) -> bool | None:
        return self._get(info, lambda r: r.valid, whole=True)

    @field(description="List of error in the flow definition.")
    def errors(self, info: Info) -> JSON | None:
        return self._get(info, lambda r: JSON(r.errors), whole=True)

    @field(description=_CREATED)
    def date_created(self, info: Info) -> datetime | None:
        return self._get(info, lambda r: r.date_created)

    @field(description=_UPDATED)
    def date_updated(self, info: Info) -> datetime | None:
        return self._get(info, lambda r: r.date_updated)

    @field(description="The absolute URL of the resource.")
    def url(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.url)

    @field(description="The widgets of the definition.")
    def widgets(self, info: Info) -> list[Widget] | None:
        return self._get(info, lambda r: widgets_of(r.definition), whole=True)


@strawberry.type(description="A Studio flow: widgets and transitions, with revisions and runs.")
class Flow(_FlowFields, Node):
    record: strawberry.Private[studio.Flow | None] = None

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

    @field(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("Flow", self.flow_sid))

    @field(description="The latest revision number of the Flow's definition.")
    def revision(self, info: Info) -> int | None:
        return self._get(info, lambda r: r.revision)

    @field(description="List of warnings in the flow definition.")
    def warnings(self, info: Info) -> JSON | None:
        return self._get(info, lambda r: JSON(r.warnings), whole=True)

    @field(description="The URL Twilio posts to for this flow's webhook trigger.")
    def webhook_url(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.webhook_url)

    @field(
        description=(
            "Identities allowed to test the flow's draft revision (phone numbers among "
            "them: needs pii:read)."
        ),
        permission_classes=[PiiRead],
    )
    async def test_users(self, info: Info) -> list[str] | None:
        users = await load(info.context.loaders.test_users.load(self.flow_sid), "test users")
        return list(users.test_users)

    @field(description="The flow's revisions, newest first.")
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
        )
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
        permission_classes=[ExecutionsRead],
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


def prefetch_flow_children(info: Info, flow_sid: str, selections: list[Any]) -> None:
    """Start the first pages a flow's selected lists will read, beside the flow's own fetch.

    Nothing a list needs comes from the flow's record, so `flow(sid) { executions }`
    need not wait for the flow before asking for its executions: both go out at
    once, and the list's resolver later finds its page already on the way. Only
    plain first pages are started (no cursor, no date filter), only what the
    caller may read, and a prefetch that fails is left for the field to report.
    """
    loaders = info.context.loaders
    caller = principal(info)
    for selected in selections:
        if not isinstance(selected, SelectedField) or selected.arguments.get("after") is not None:
            continue
        args = selected.arguments
        try:
            if selected.name == "executions" and caller.allows(EXECUTIONS_READ):
                if args.get("dateCreatedFrom") is not None or args.get("dateCreatedTo") is not None:
                    continue
                status = args.get("status")
                filters = execution_filters(
                    ExecutionStatus[status] if isinstance(status, str) else None, None, None
                )
                paging = first_page(_int(args.get("first")))
                _quietly(loaders.executions_page.load(PageKey.of((flow_sid,), paging, filters)))
            elif selected.name == "revisions":
                paging = first_page(_int(args.get("first")))
                _quietly(loaders.revisions_page.load(PageKey.of((flow_sid,), paging)))
            elif selected.name == "testUsers" and caller.allows(PII_READ):
                _quietly(loaders.test_users.load(flow_sid))
        except (GatewayError, KeyError, TypeError, ValueError):
            continue  # the field itself will say what is wrong with its arguments


def _int(value: Any) -> int | None:
    # strawberry hands a literal argument over as its source text ("3"), a
    # variable as its value (3).
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value


def _quietly(future: Awaitable[Any]) -> None:
    # A prefetch nobody reads (the flow was not found) must not warn that its
    # exception was never retrieved.
    if isinstance(future, asyncio.Future):
        future.add_done_callback(lambda done: done.cancelled() or done.exception())


def later(value: Awaitable[V]) -> V:
    """An awaitable of a sync resolver's answer, passed off as the answer itself.

    graphql-core awaits whatever awaitable a resolver returns, so a field answers
    at once when its record is here and loads it only when it is not, while the
    resolver's return annotation, which strawberry reads the field's GraphQL type
    from, names the value alone. This is the one place that says so to mypy.
    """
    return cast(V, value)


@strawberry.type(description="A revision of a flow: its definition as it was at that number.")
class FlowRevision(_FlowFields, Node):
    number: strawberry.Private[int]
    record: strawberry.Private[studio.FlowRevision]

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

    @field(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("FlowRevision", self.flow_sid, self.number))

    @field(description="The revision number of the Flow's definition.")
    def revision(self) -> int:
        return self.record.revision

    @field(description="The flow this is a revision of.")
    def flow(self) -> Flow:
        return Flow(flow_sid=self.flow_sid)


# -- executions ---------------------------------------------------------------


@strawberry.type(description="One run of a flow for one contact.")
class Execution(Node):
    flow_sid: strawberry.Private[str]
    execution_sid: strawberry.Private[str]
    record: strawberry.Private[studio.Execution | None] = None

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

    @field(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("Execution", self.flow_sid, self.execution_sid))

    @field(description="The unique string that we created to identify the Execution resource.")
    def sid(self) -> str:
        return self.execution_sid

    @field(description="The SID of the Account that created the Execution resource.")
    def account_sid(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.account_sid)

    @field(name="flowSid", description="The SID of the Flow.")
    def flow_sid_field(self) -> str:
        return self.flow_sid

    @field(
        description=(
            "The phone number, SIP address or Client identifier that triggered the Execution. "
            "Phone numbers are in E.164 format (e.g. +16175551212). SIP addresses are formatted "
            "as `name@company.com`. Client identifiers are formatted `client:name`."
        ),
        permission_classes=[PiiRead],
    )
    def contact_channel_address(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.contact_channel_address)

    @field(description="The SID of the Contact.")
    def contact_sid(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.contact_sid)

    @field(description="The Flow version number at the time of Execution creation.")
    def flow_version(self, info: Info) -> int | None:
        return self._get(info, lambda r: r.flow_version)

    @field(description="Whether the execution is still running.")
    def status(self, info: Info) -> ExecutionStatus | None:
        return self._get(info, lambda r: ExecutionStatus(r.status.value))

    @field(
        description=(
            "The SID or identifier that triggered this Execution. For example, a Call SID if "
            "triggered by an incoming call, a Message SID if triggered by an incoming message, "
            "a Request SID if triggered by a REST API request, and so on."
        )
    )
    def initiated_by(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.initiated_by)

    @field(description=_CREATED)
    def date_created(self, info: Info) -> datetime | None:
        return self._get(info, lambda r: r.date_created)

    @field(description=_UPDATED)
    def date_updated(self, info: Info) -> datetime | None:
        return self._get(info, lambda r: r.date_updated)

    @field(description="The absolute URL of the resource.")
    def url(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.url)

    @field(
        description=_CONTEXT + " Read from the execution's Context resource.",
        permission_classes=[PiiRead],
    )
    async def context(self, info: Info) -> JSON | None:
        context = await load(
            info.context.loaders.execution_context.load((self.flow_sid, self.execution_sid)),
            f"the context of execution {self.execution_sid}",
        )
        return context.context

    @field(description="The flow this execution runs.", permission_classes=[FlowsRead])
    def flow(self) -> Flow | None:
        return Flow(flow_sid=self.flow_sid)

    @field(
        description="The revision of the flow this execution ran on.",
        permission_classes=[FlowsRead],
    )
    async def flow_revision(self, info: Info) -> FlowRevision | None:
        version = (await self.load_record(info)).flow_version
        if version is None:
            return None
        record = await load(
            info.context.loaders.flow_revision.load((self.flow_sid, str(version))),
            f"revision {version} of flow {self.flow_sid}",
        )
        return FlowRevision(flow_sid=self.flow_sid, number=record.revision, record=record)

    @field(description="The execution's steps, most recent first.")
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

    @field(description="A global id that encodes the object's parent path.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(
            ids.encode("ExecutionStep", self.flow_sid, self.execution_sid, self.step_sid)
        )

    @field(description="The unique string that we created to identify the ExecutionStep resource.")
    def sid(self) -> str:
        return self.step_sid

    @field(description="The SID of the Account that created the ExecutionStep resource.")
    def account_sid(self) -> str | None:
        return self.record.account_sid

    @field(name="flowSid", description="The SID of the Flow.")
    def flow_sid_field(self) -> str:
        return self.flow_sid

    @field(name="executionSid", description="The SID of the Step's Execution resource.")
    def execution_sid_field(self) -> str:
        return self.execution_sid

    @field(description="The SID of the parent Step.")
    def parent_step_sid(self) -> str | None:
        return self.record.parent_step_sid

    @field(description="The event that caused the Flow to transition to the Step.")
    def name(self) -> str | None:
        return self.record.name

    @field(description="The Widget that preceded the Widget for the Step.")
    def transitioned_from(self) -> str | None:
        return self.record.transitioned_from

    @field(description="The Widget that will follow the Widget for the Step.")
    def transitioned_to(self) -> str | None:
        return self.record.transitioned_to

    @field(description="The type of the widget that was executed.")
    def type(self) -> str | None:
        return self.record.type

    @field(description=_CREATED)
    def date_created(self) -> datetime | None:
        return self.record.date_created

    @field(description=_UPDATED)
    def date_updated(self) -> datetime | None:
        return self.record.date_updated

    @field(description="The absolute URL of the resource.")
    def url(self) -> str | None:
        return self.record.url

    @field(
        description=_CONTEXT + " Read from the step's Context resource.",
        permission_classes=[PiiRead],
    )
    async def context(self, info: Info) -> JSON | None:
        context = await load(
            info.context.loaders.step_context.load(
                (self.flow_sid, self.execution_sid, self.step_sid)
            ),
            f"the context of step {self.step_sid}",
        )
        return context.context

    @field(description="The execution this step belongs to.")
    def execution(self) -> Execution:
        return Execution(flow_sid=self.flow_sid, execution_sid=self.execution_sid)

    @field(description="The flow this step's execution runs.", permission_classes=[FlowsRead])
    def flow(self) -> Flow | None:
        return Flow(flow_sid=self.flow_sid)

    @field(description="The step that started this one's subflow; null for a top-level step.")
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
        permission_classes=[FlowsRead],
    )
    async def from_widget(self, info: Info) -> Widget | None:
        return widget_named(await self._definition(info), self.record.transitioned_from)

    @field(
        description=(
            "The widget the execution moved to, as the revision it ran on defines it; "
            "null when that revision has no widget of that name (or the execution ended)."
        ),
        permission_classes=[FlowsRead],
    )
    async def to_widget(self, info: Info) -> Widget | None:
        return widget_named(await self._definition(info), self.record.transitioned_to)

    async def _definition(self, info: Info) -> Any:
        execution = Execution(flow_sid=self.flow_sid, execution_sid=self.execution_sid)
        version = (await execution.load_record(info)).flow_version
        if version is None:
            return None
        revision = await load(
            info.context.loaders.flow_revision.load((self.flow_sid, str(version))),
            f"revision {version} of flow {self.flow_sid}",
        )
        return revision.definition


#: The types `node(id:)` answers, in the order of `ids.PATHS`, which names them.
NODE_TYPES: Final = (Flow, FlowRevision, Execution, ExecutionStep)
