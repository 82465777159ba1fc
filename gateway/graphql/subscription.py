"""Subscriptions: an execution's steps as they happen, and a flow's executions.

The resolvers read the past through the operation's loaders (the REST Steps
list) and the present from a feed (`LiveExecutions`, given by the events layer
in the context), and resolve each update through the same types as queries: a
field an update's record lacks (a step's `type` from an Event Streams event) is
fetched through the loaders. Over a WebSocket each operation has its own copy
of the connection's context; `FreshLoaders` makes each operation its own
loaders, and a subscription new ones for each update it resolves from the feed
(a step, a flow's executions, an execution's end): memoized reads would be
stale, and would pile up for as long as the subscription runs. Those are the
update's own, shared by every subscriber of it (`update_reads`), and each
update sent is paid from the principal's budget at the subscription's price
per update (`update_cost`); past the budget the update still goes out, its
nested reads answered `RATE_LIMITED`.

A live subscription rides out faults instead of handing them to the client: a
read that fails for a passing reason (5xx, a timeout, the circuit open, 429) is
tried again with new loaders after a wait that doubles, for up to the feed's
`retry_for` seconds, and only then ends it with that error; updates lost on the
way (`Lagged`) are read from the Steps list, oldest first, each step once (by
SID), and the subscription carries on. Only a flow's subscription, which has no
past to read, ends with `MISSED_EVENTS`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Annotated, Any, Final, Protocol, TypeVar

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from gateway import studio
from gateway.graphql.context import Info
from gateway.graphql.errors import Code, GatewayError, from_studio
from gateway.graphql.fields import subscription
from gateway.graphql.scalars import ExecutionStatus
from gateway.graphql.scopes import ExecutionsRead
from gateway.graphql.types import Execution, ExecutionStep
from gateway.graphql.update_cost import price_of
from gateway.graphql.update_reads import reads_for, update_loaders
from gateway.loaders import Loaders, PageKey
from gateway.pages import next_paging

__all__ = [
    "ExecutionUpdate",
    "Feed",
    "Gone",
    "Lagged",
    "LiveExecutions",
    "RefuseSubscriptions",
    "Refused",
    "Subscription",
    "Unavailable",
]

#: The largest page the Steps list serves: the whole past in the fewest calls.
_PAGE = {"PageSize": str(studio.MAX_PAGE_SIZE)}
#: Seconds before a failed read is tried again; each wait doubles (with jitter) to the cap.
_FIRST_RETRY: Final = 0.2
_MAX_RETRY: Final = 5.0

Update = studio.ExecutionStep | studio.Execution
V = TypeVar("V")


class Lagged(Exception):
    """A subscriber fell further behind than its queue holds: events were dropped."""


class Gone(Exception):
    """The watched execution (or flow) no longer exists upstream: deleted, or an
    execution past its 30 days."""


class Refused(Exception):
    """Twilio no longer accepts the credentials the subscription's updates were read with."""


class Unavailable(Exception):
    """The reads that bring the subscription's updates kept failing (`error`, the last)."""

    def __init__(self, error: studio.StudioError) -> None:
        super().__init__(str(error))
        self.error = error


class Feed(Protocol):
    """One subscriber's live updates, in the order they happened; raises `Lagged`
    (after which it may be iterated again), `Gone`, `Refused` or `Unavailable`."""

    def __aiter__(self) -> AsyncIterator[Update]: ...

    def verified(self) -> None:
        """Twilio accepted the subscriber's credentials (its own fetch succeeded):
        a poller may read with them."""
        ...

    def close(self) -> None: ...


class LiveExecutions(Protocol):
    """What the events layer gives subscriptions (`gateway.events.watch.Live`)."""

    @property
    def retry_for(self) -> float:
        """Seconds a subscription keeps retrying a failed read before it ends."""
        ...

    def execution(self, client: studio.StudioClient, flow_sid: str, execution_sid: str) -> Feed:
        """Steps (`studio.ExecutionStep`) then the ended `studio.Execution`, for the
        account of `client` (which a poller may read with)."""
        ...

    def flow(self, client: studio.StudioClient, flow_sid: str) -> Feed:
        """Each `studio.Execution` of the flow as it starts and ends."""
        ...


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
        permission_classes=[ExecutionsRead],
    )
    async def execution_updates(
        self, info: Info, flow_sid: strawberry.ID, execution_sid: strawberry.ID
    ) -> AsyncGenerator[ExecutionUpdate, None]:
        flow, sid = _sid("FW", flow_sid, "flowSid"), _sid("FN", execution_sid, "executionSid")
        live = _live(info)
        what = f"execution {sid}"
        read = _Reads(info)
        read_execution = functools.partial(_execution, key=(flow, sid))
        read_steps = functools.partial(_steps, flow=flow, sid=sid)
        # Listen before reading the past: a step between the two is then in both.
        feed = live.execution(read.loaders.client, flow, sid)
        try:
            execution = await read(read_execution, what)
            if execution.status is not studio.ExecutionStatus.ENDED:
                feed.verified()
            price = price_of(info)
            seen: set[str] = set()
            for step in _new(await read(read_steps, "steps"), seen):
                read.pay(price)
                yield _step(step)
            if execution.status is not studio.ExecutionStatus.ENDED:
                selections = info.selected_fields[0].selections
                wants_type = _selects(selections, "type", "ExecutionStep")
                wants_address = _selects(selections, "contactChannelAddress", "Execution")
                end: studio.Execution | None = None
                while end is None:
                    try:
                        async for update in _lagging(feed, what, repairable=True):
                            if isinstance(update, studio.ExecutionStep):
                                if update.sid in seen:
                                    continue
                                seen.add(update.sid)
                                read.share(update)
                                complete = functools.partial(
                                    _complete, step=update, wants_type=wants_type
                                )
                                step = await read(complete, f"step {update.sid}")
                                read.pay(price)
                                _sent(info, "ExecutionStep")
                                yield _step(step)
                                continue
                            end = update
                            break
                    except Lagged:
                        # Updates were lost on the way: the Steps list fills the gap,
                        # and the execution, read first, says whether it has ended.
                        _observe(info, "repair")
                        read.fresh()
                        current = await read(read_execution, what)
                        for step in _new(await read(read_steps, "steps"), seen):
                            read.pay(price)
                            _sent(info, "ExecutionStep")
                            yield _step(step)
                        if current.status is studio.ExecutionStatus.ENDED:
                            end = current
                # The end: read afresh (the Steps list holds every step there is
                # now; a `context` read with an earlier step is no longer current).
                read.share(end)
                address = functools.partial(_with_address, execution=end, wants=wants_address)
                execution = await read(address, what)
                for step in _new(await read(read_steps, "steps"), seen):
                    read.pay(price)
                    _sent(info, "ExecutionStep")
                    yield _step(step)
                _prime(read.loaders, execution)
                _sent(info, "Execution")
            read.pay(price)
            yield Execution(flow_sid=flow, execution_sid=sid, record=execution)
        finally:
            feed.close()

    @subscription(
        description="Each execution of a flow as it starts and as it ends (never completes).",
        permission_classes=[ExecutionsRead],
    )
    async def flow_executions(
        self, info: Info, flow_sid: strawberry.ID, status: ExecutionStatus | None = None
    ) -> AsyncGenerator[Execution, None]:
        flow = _sid("FW", flow_sid, "flowSid")
        live = _live(info)
        read = _Reads(info)
        feed = live.flow(read.loaders.client, flow)
        selections = info.selected_fields[0].selections
        wants_address = _selects(selections, "contactChannelAddress", "Execution")
        try:
            await read(functools.partial(_flow, sid=flow), f"flow {flow}")  # one that exists
            feed.verified()
            price = price_of(info)
            async for update in _lagging(feed, f"flow {flow}"):
                if not isinstance(update, studio.Execution):
                    continue
                if status is not None and update.status.value != status.value:
                    continue
                # Each update afresh: what an earlier one read (its steps, its
                # context) is stale now, and loaders kept for ever would grow for ever.
                read.share(update)
                address = functools.partial(_with_address, execution=update, wants=wants_address)
                execution = await read(address, f"execution {update.sid}")
                _prime(read.loaders, execution)
                read.pay(price)
                _sent(info, "Execution")
                yield Execution(flow_sid=flow, execution_sid=update.sid, record=execution)
        finally:
            feed.close()


def _sent(info: Info, kind: str) -> None:
    """Count a live update (metrics): `kind` is its GraphQL type."""
    metrics = info.context.metrics
    if metrics is not None:
        metrics.observe_update(kind)


def _observe(info: Info, kind: str) -> None:
    """Count a recovery (metrics): a `retry` of a failed read, a `repair` of a gap."""
    metrics = info.context.metrics
    if metrics is not None:
        metrics.observe_live(kind)


class _Reads:
    """One subscription's reads, through loaders of its own (the context's are the
    latest operation's), retried when they fail for a passing reason."""

    def __init__(self, info: Info) -> None:
        self.info = info
        self.loaders = info.context.loaders

    def fresh(self) -> None:
        """New loaders of the subscription's own (a loader keeps its failures, and a
        gap's reads must not be answered from before it)."""
        self.loaders = self.info.context.new_loaders()
        self.info.context.loaders = self.loaders

    def share(self, update: Update) -> None:
        """Read what comes next through `update`'s loaders, which every subscriber of
        that update with the same credentials shares (`update_reads`)."""
        self.loaders = update_loaders(self.info, update)

    def pay(self, price: int) -> None:
        """Pay for the update about to be sent; its selection reads through the current
        loaders, or answers `RATE_LIMITED` past the principal's budget (the
        subscription's own reads go on either way)."""
        reads_for(self.info, self.loaders, price)

    async def __call__(self, read: Callable[[Loaders], Awaitable[V]], what: str) -> V:
        """`read(loaders)`; a failure that may pass is tried again with new loaders (a
        loader keeps its failures), waiting twice as long each time (with jitter, and
        at least what Twilio or the circuit asks), for up to the feed's `retry_for`
        seconds. Past it, or for any other failure, the client's error for `what`."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + _live(self.info).retry_for
        wait = _FIRST_RETRY
        while True:
            try:
                return await read(self.loaders)
            except studio.StudioError as error:
                pause = max(random.uniform(wait / 2, wait), error.retry_after or 0.0)
                if not _passing(error):
                    raise from_studio(error, what) from None
                if loop.time() + pause > give_up:
                    raise _gave_up(error, what) from None
            _observe(self.info, "retry")
            await asyncio.sleep(pause)
            wait = min(2 * wait, _MAX_RETRY)
            self.fresh()


def _passing(error: studio.StudioError) -> bool:
    """Whether a failure may pass if the read is tried again: the upstream in trouble,
    or a limit that lifts; never an answer about the request itself (4xx)."""
    if error.reason is studio.Reason.RESPONSE:
        return error.status is None or error.status == 429 or error.status >= 500
    return error.reason is not studio.Reason.REJECTED


def _gave_up(error: studio.StudioError, what: str) -> GatewayError:
    """The client's error for a failure that outlasted the retries."""
    given = from_studio(error, what)
    extensions = {k: v for k, v in given.extensions.items() if k != "code"}
    return GatewayError(
        f"{given.message}; tried again until it gave up, and the subscription ends",
        given.code,
        **extensions,
    )


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


async def _lagging(feed: Feed, what: str, *, repairable: bool = False) -> AsyncIterator[Update]:
    """The feed's updates; a subscriber that fell behind (unless the caller repairs
    it: `Lagged` then goes on), whose execution is gone, or whose reads kept
    failing, gets a clear error."""
    try:
        async for update in feed:
            yield update
    except Lagged:
        if repairable:
            raise
        raise GatewayError(
            f"this subscription missed updates of {what} that cannot be read again; "
            "subscribe again",
            Code.MISSED_EVENTS,
        ) from None
    except Unavailable as failing:
        raise _gave_up(failing.error, what) from None
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


async def _execution(loaders: Loaders, key: tuple[str, str]) -> studio.Execution:
    return await loaders.execution.load(key)


async def _flow(loaders: Loaders, sid: str) -> studio.Flow:
    return await loaders.flow.load(sid)


async def _steps(loaders: Loaders, flow: str, sid: str) -> list[studio.ExecutionStep]:
    """Every step in the Steps list, oldest first (the list is most recent first)."""
    steps: list[studio.ExecutionStep] = []
    paging: dict[str, str] | None = dict(_PAGE)
    while paging is not None:
        page = await loaders.steps_page.load(PageKey.of((flow, sid), paging))
        steps.extend(page.items)
        paging = next_paging(page) if page.items else None
    steps.reverse()
    # Stable: steps in one second keep the list's order.
    return sorted(steps, key=lambda s: s.date_created.timestamp() if s.date_created else 0.0)


def _new(steps: Iterable[studio.ExecutionStep], seen: set[str]) -> list[studio.ExecutionStep]:
    fresh = [s for s in steps if s.sid not in seen]
    seen.update(s.sid for s in fresh)
    return fresh


async def _complete(
    loaders: Loaders, step: studio.ExecutionStep, wants_type: bool
) -> studio.ExecutionStep:
    """The step with what its event left out (its `type`) when the operation selects it."""
    if step.type is not None or not wants_type:
        return step
    return await loaders.step.load((step.flow_sid, step.execution_sid, step.sid))


async def _with_address(
    loaders: Loaders, execution: studio.Execution, wants: bool
) -> studio.Execution:
    """The execution with its contact address when the operation selects it and the
    event came without (across replicas without the cache cipher it stays behind)."""
    if execution.contact_channel_address is not None or not wants:
        return execution
    key = (execution.flow_sid, execution.sid)
    fetched = await loaders.execution.load(key)
    return dataclasses.replace(execution, contact_channel_address=fetched.contact_channel_address)


def _prime(loaders: Loaders, execution: studio.Execution) -> None:
    """Let the update's reads of its execution take this record, when it is whole.

    One without its contact address (left on another replica) is not: a subscriber
    that selects the address must fetch it, not be handed this one.
    """
    if execution.contact_channel_address is not None:
        loaders.execution.prime((execution.flow_sid, execution.sid), execution)


def _step(record: studio.ExecutionStep) -> ExecutionStep:
    return ExecutionStep(
        flow_sid=record.flow_sid,
        execution_sid=record.execution_sid,
        step_sid=record.sid,
        record=record,
    )


def _selects(selections: Iterable[Any], name: str, on: str) -> bool:
    """Whether an update's selection reads `name` of type `on`, fragments included."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            return True
        if (
            isinstance(selection, InlineFragment | FragmentSpread)
            and selection.type_condition in (None, on, "Node", "ExecutionUpdate")
            and _selects(selection.selections, name, on)
        ):
            return True
    return False


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
