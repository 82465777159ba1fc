"""Subscriptions: an execution's steps as they happen, and a flow's executions.

The resolvers read the past through the operation's loaders (the REST Steps
list) and the present from a feed (`LiveExecutions`, given by the events layer
in the context), and resolve each update through the same types as queries: a
field an update's record lacks (a step's `type` from an Event Streams event) is
fetched through the loaders. Over a WebSocket one context serves many
operations; `FreshLoaders` makes each operation its own loaders, and a
subscription new ones for each update it resolves from a changed record (a
flow's executions, an execution's end): memoized reads would be stale, and would
pile up for as long as the subscription runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from typing import Annotated

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from gateway import studio
from gateway.feeds import Feed, Gone, Lagged, LiveExecutions, Refused, Update
from gateway.graphql.context import Info
from gateway.graphql.documents import selected
from gateway.graphql.errors import Code, GatewayError, load
from gateway.graphql.fields import subscription
from gateway.graphql.internals import core_schema
from gateway.graphql.policy import ONE_CALL, needs
from gateway.graphql.scalars import ExecutionStatus
from gateway.graphql.selection import fields
from gateway.graphql.types import Execution, ExecutionStep
from gateway.loaders import Loaders, PageKey
from gateway.pages import next_paging
from gateway.security.principal import EXECUTIONS_READ

__all__ = ["ExecutionUpdate", "RefuseSubscriptions", "Subscription"]

#: The largest page the Steps list serves: the whole past in the fewest calls.
_PAGE = {"PageSize": str(studio.MAX_PAGE_SIZE)}

ExecutionUpdate = Annotated[
    ExecutionStep | Execution,
    strawberry.union(
        "ExecutionUpdate",
        description="A step an execution took, or the execution itself once it has ended.",
    ),
]


@strawberry.type
class Subscription:
    @subscription(
        description=(
            "Each step of an execution as it happens (the steps it already took first, "
            "oldest first), then the execution once it has ended; then it completes."
        ),
        scopes=needs(EXECUTIONS_READ),
        price=ONE_CALL,
    )
    async def execution_updates(
        self, info: Info, flow_sid: strawberry.ID, execution_sid: strawberry.ID
    ) -> AsyncGenerator[ExecutionUpdate, None]:
        flow, sid = _sid("FW", flow_sid, "flowSid"), _sid("FN", execution_sid, "executionSid")
        live = _live(info)
        loaders = info.context.loaders
        # Listen before reading the past: a step between the two is then in both.
        feed = live.execution(loaders.client, flow, sid)
        try:
            execution = await load(loaders.execution.load((flow, sid)), f"execution {sid}")
            if execution.status is not studio.ExecutionStatus.ENDED:
                feed.verified()
            seen: set[str] = set()
            for step in _new(await _steps(loaders, flow, sid), seen):
                yield _step(step)
            if execution.status is not studio.ExecutionStatus.ENDED:
                wants_type = _selects(info, "type", "ExecutionStep")
                wants_address = _selects(info, "contactChannelAddress", "Execution")
                async for update in _lagging(feed, f"execution {sid}"):
                    if isinstance(update, studio.ExecutionStep):
                        if update.sid in seen:
                            continue
                        seen.add(update.sid)
                        _sent(info, "ExecutionStep")
                        yield _step(await _complete(loaders, update, wants_type))
                        continue
                    # The end: read afresh (the Steps list holds every step there is
                    # now; a `context` read with an earlier step is no longer current).
                    loaders = _fresh(info)
                    execution = await _with_address(loaders, update, wants_address)
                    for step in _new(await _steps(loaders, flow, sid), seen):
                        _sent(info, "ExecutionStep")
                        yield _step(step)
                    loaders.execution.clear((flow, sid)).prime((flow, sid), execution)
                    _sent(info, "Execution")
                    break
            yield Execution(flow_sid=flow, execution_sid=sid, record=execution)
        finally:
            feed.close()

    @subscription(
        description="Each execution of a flow as it starts and as it ends (never completes).",
        scopes=needs(EXECUTIONS_READ),
        price=ONE_CALL,
    )
    async def flow_executions(
        self, info: Info, flow_sid: strawberry.ID, status: ExecutionStatus | None = None
    ) -> AsyncGenerator[Execution, None]:
        flow = _sid("FW", flow_sid, "flowSid")
        live = _live(info)
        loaders = info.context.loaders
        feed = live.flow(loaders.client, flow)
        wants_address = _selects(info, "contactChannelAddress", "Execution")
        try:
            await load(loaders.flow.load(flow), f"flow {flow}")  # one that exists
            feed.verified()
            async for update in _lagging(feed, f"flow {flow}"):
                if not isinstance(update, studio.Execution):
                    continue
                if status is not None and update.status.value != status.value:
                    continue
                # Each update afresh: what an earlier one read (its steps, its
                # context) is stale now, and loaders kept for ever would grow for ever.
                loaders = _fresh(info)
                update = await _with_address(loaders, update, wants_address)
                loaders.execution.prime((flow, update.sid), update)
                _sent(info, "Execution")
                yield Execution(flow_sid=flow, execution_sid=update.sid, record=update)
        finally:
            feed.close()


def _sent(info: Info, kind: str) -> None:
    """Count a live update (metrics): `kind` is its GraphQL type."""
    metrics = info.context.metrics
    if metrics is not None:
        metrics.observe_update(kind)


def _sid(prefix: str, value: str, name: str) -> str:
    if not studio.is_sid(prefix, value):
        raise GatewayError(
            f"{name} must be '{prefix}' followed by 32 hex digits", Code.BAD_USER_INPUT
        )
    return str(value)


def _live(info: Info) -> LiveExecutions:
    live: LiveExecutions | None = getattr(info.context, "live", None)
    if live is None:
        raise GatewayError(
            "subscriptions run over a WebSocket (graphql-transport-ws on /graphql)",
            Code.BAD_REQUEST,
        )
    return live


async def _lagging(feed: Feed, what: str) -> AsyncIterator[Update]:
    """The feed's updates; a subscriber that fell behind, or whose execution is gone,
    gets a clear error."""
    try:
        async for update in feed:
            yield update
    except Lagged:
        raise GatewayError(
            "this subscription fell behind and missed events; subscribe again "
            "(the steps already taken come first)",
            Code.MISSED_EVENTS,
        ) from None
    except Gone:
        raise GatewayError(
            f"{what} no longer exists (deleted, or past Twilio's 30 days); the subscription ends",
            Code.NOT_FOUND,
        ) from None
    except Refused:
        raise GatewayError(
            "Twilio no longer accepts the credentials of this subscription; the subscription ends",
            Code.UNAUTHENTICATED,
        ) from None


async def _steps(loaders: Loaders, flow: str, sid: str) -> list[studio.ExecutionStep]:
    """Every step in the Steps list, oldest first (the list is most recent first)."""
    steps: list[studio.ExecutionStep] = []
    paging: dict[str, str] | None = dict(_PAGE)
    while paging is not None:
        page = await load(loaders.steps_page.load(PageKey.of((flow, sid), paging)), "steps")
        steps.extend(page.items)
        paging = next_paging(page) if page.items else None
    steps.reverse()
    # Stable: steps in one second keep the list's order.
    return sorted(steps, key=lambda s: s.date_created.timestamp() if s.date_created else 0.0)


def _new(steps: Iterable[studio.ExecutionStep], seen: set[str]) -> list[studio.ExecutionStep]:
    fresh = [s for s in steps if s.sid not in seen]
    seen.update(s.sid for s in fresh)
    return fresh


def _fresh(info: Info) -> Loaders:
    """New loaders for what the operation resolves next (see `FreshLoaders`)."""
    info.context.loaders = info.context.new_loaders()
    return info.context.loaders


async def _complete(
    loaders: Loaders, step: studio.ExecutionStep, wants_type: bool
) -> studio.ExecutionStep:
    """The step with what its event left out (its `type`) when the operation selects it."""
    if step.type is not None or not wants_type:
        return step
    key = (step.flow_sid, step.execution_sid, step.sid)
    return await load(loaders.step.load(key), f"step {step.sid}")


async def _with_address(
    loaders: Loaders, execution: studio.Execution, wants_address: bool
) -> studio.Execution:
    """The execution with its contact address when the operation selects it and the
    event came without (across replicas without the cache cipher it stays behind)."""
    if execution.contact_channel_address is not None or not wants_address:
        return execution
    key = (execution.flow_sid, execution.sid)
    fetched = await load(loaders.execution.clear(key).load(key), f"execution {execution.sid}")
    return dataclasses.replace(execution, contact_channel_address=fetched.contact_channel_address)


def _step(record: studio.ExecutionStep) -> ExecutionStep:
    return ExecutionStep(
        flow_sid=record.flow_sid,
        execution_sid=record.execution_sid,
        step_sid=record.sid,
        record=record,
    )


def _selects(info: Info, name: str, on: str) -> bool:
    """Whether an update's selection reads `name` of type `on`, fragments included."""
    schema = core_schema(info.schema)
    kind = schema.get_type(on)
    variables = info.variable_values
    return any(
        child.name == name
        for field in selected(info)
        for child in fields(field.selection, kind, variables, schema=schema)
    )


class RefuseSubscriptions(SchemaExtension):
    """A subscription refused by an earlier check (limits, scopes) never starts.

    Strawberry runs a query only when no extension has set a result; it subscribes
    whatever they set. Raising here answers the refusal instead (its first error).
    Place it after the extensions that refuse.
    """

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        result = ec.result
        if result is not None and result.errors and _subscription(ec):
            raise result.errors[0]
        yield


def _subscription(ec: ExecutionContext) -> bool:
    try:
        return ec.operation_type is OperationType.SUBSCRIPTION
    except Exception:  # no document or no such operation: execution says so
        return False
