"""Per-request DataLoaders over the Studio client and the shared cache.

One loader per way of reading a resource, keyed by its full parent path.
A `Loaders` lives for one GraphQL operation and is never shared: it is the
request's memory of what it has already fetched. A list page primes the
per-item loaders, so nothing a page returned is fetched again; abridged list
records (the Flows and Revisions lists leave out the definition) are kept
apart, so a missing field is never mistaken for a null one.

`Loaders.reads` records whether everything the operation read can never change
(the same rule as the shared cache's, `gateway/keeping.py`), so an answer built
from it alone may be cached by the client. Reading is this module's one job:
a mutation's changes, and what the operation forgets after them, are
`gateway/writes.py`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from functools import cached_property
from typing import Any, Protocol, TypeVar

from aiodataloader import DataLoader

from gateway.cache import LayeredCache, decode
from gateway.keeping import AheadOf, Answer, EntryNames, ExecutionKey, Keeper, Reads, seen_ended
from gateway.pages import NO_FILTERS, ExecutionFilters, PageKey, next_paging
from gateway.studio import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PAGING_PARAMS,
    Execution,
    ExecutionContext,
    ExecutionStatus,
    ExecutionStep,
    Flow,
    FlowRevision,
    FlowValidation,
    Page,
    PageMeta,
    StepContext,
    StudioClient,
    TestUsers,
)

# The page shapes (`gateway/pages.py`) come with the loaders, so the GraphQL
# layer reads pages through them and never reaches into `studio` for a list.
__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "NO_FILTERS",
    "PAGING_PARAMS",
    "ExecutionFilters",
    "Loader",
    "LoaderObserver",
    "Loaders",
    "Page",
    "PageKey",
    "Reads",
    "next_paging",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

FlowKey = str
RevisionKey = tuple[str, str]  # (flow_sid, number or alias)
StepKey = tuple[str, str, str]  # (flow_sid, execution_sid, step_sid)


class LoaderObserver(Protocol):
    """Told of each batch (metrics)."""

    def observe_batch(self, loader: str, size: int) -> None: ...


class Loader(DataLoader[K, V]):
    """A DataLoader whose batch runs every distinct key's fetch concurrently.

    Studio has no batch endpoint, so a batch is de-duplicated single fetches
    side by side. A failed key gets its own exception; the others still resolve.
    `answers` is what this operation knows of each key it asked for or primed
    (on the way, in, failed), kept here through the loader's public methods:
    what the cache decides reads it, never aiodataloader's own memory.
    """

    def __init__(
        self,
        fetch: Callable[[K], Awaitable[V]],
        name: str = "loader",
        observer: LoaderObserver | None = None,
    ) -> None:
        self.answers: dict[K, Answer[V]] = {}
        # Asked for, not yet in a batch: each batch takes its keys' answers at its start.
        self._asked: dict[K, Answer[V]] = {}

        async def batch(keys: list[K]) -> list[V | BaseException]:
            answers = [self._asked.pop(key, None) for key in keys]
            if observer is not None:
                observer.observe_batch(name, len(keys))
            results = await asyncio.gather(*(fetch(key) for key in keys), return_exceptions=True)
            # Settled before aiodataloader tells the waiters: none sees it on the way.
            for answer, result in zip(answers, results, strict=True):
                if answer is not None:
                    answer.settle(result)
            return results

        # An exception in place of a value fails that key alone, as aiodataloader
        # documents; its annotations allow values only.
        super().__init__(batch)  # type: ignore[arg-type]

    def load(self, key: K) -> asyncio.Future[V]:
        if key not in self.answers:
            self.answers[key] = self._asked[key] = Answer()
        return super().load(key)

    def prime(self, key: K, value: V) -> Loader[K, V]:
        if key not in self.answers:  # as aiodataloader: a known key keeps its answer
            self.answers[key] = Answer(value, done=True)
        super().prime(key, value)
        return self

    def clear(self, key: K) -> Loader[K, V]:
        self.answers.pop(key, None)
        self._asked.pop(key, None)
        super().clear(key)
        return self

    def clear_all(self) -> Loader[K, V]:
        self.answers.clear()
        self._asked.clear()
        super().clear_all()
        return self

    def clear_where(self, match: Callable[[K], bool]) -> None:
        """Forget every key this operation knows that `match` picks."""
        for key in [k for k in self.answers if match(k)]:
            self.clear(key)


class Loaders:
    """Every loader one GraphQL operation uses."""

    def __init__(
        self,
        client: StudioClient,
        cache: LayeredCache | None = None,
        *,
        observer: LoaderObserver | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.observer = observer
        self.reads = Reads()
        #: The shared cache's names for this operation's credentials.
        self.names = EntryNames(client.credentials.scope, client.credentials.account_sid)

        #: Abridged records seen in list pages, by key. Never in the loaders below.
        self.listed_flows: dict[FlowKey, Flow] = {}
        self._keeper = Keeper(cache, self.reads)

    # -- the loaders: each made on first use (most operations read a few) -------

    @cached_property
    def flow(self) -> Loader[FlowKey, Flow]:
        return Loader(self._fetch_flow, "flow", self.observer)

    @cached_property
    def flow_revision(self) -> Loader[RevisionKey, FlowRevision]:
        return Loader(self._fetch_revision, "flow_revision", self.observer)

    @cached_property
    def test_users(self) -> Loader[FlowKey, TestUsers]:
        return Loader(self._fetch_test_users, "test_users", self.observer)

    @cached_property
    def execution(self) -> Loader[ExecutionKey, Execution]:
        return Loader(self._fetch_execution, "execution", self.observer)

    @cached_property
    def execution_context(self) -> Loader[ExecutionKey, ExecutionContext]:
        return Loader(self._fetch_execution_context, "execution_context", self.observer)

    @cached_property
    def step(self) -> Loader[StepKey, ExecutionStep]:
        return Loader(self._fetch_step, "step", self.observer)

    @cached_property
    def step_context(self) -> Loader[StepKey, StepContext]:
        return Loader(self._fetch_step_context, "step_context", self.observer)

    @cached_property
    def flows_page(self) -> Loader[PageKey, Page[Flow]]:
        return Loader(self._fetch_flows_page, "flows_page", self.observer)

    @cached_property
    def revisions_page(self) -> Loader[PageKey, Page[FlowRevision]]:
        return Loader(self._fetch_revisions_page, "revisions_page", self.observer)

    @cached_property
    def executions_page(self) -> Loader[PageKey, Page[Execution]]:
        return Loader(self._fetch_executions_page, "executions_page", self.observer)

    @cached_property
    def steps_page(self) -> Loader[PageKey, Page[ExecutionStep]]:
        return Loader(self._fetch_steps_page, "steps_page", self.observer)

    # -- reads that accept an abridged record ---------------------------------

    async def flow_summary(self, sid: str) -> Flow:
        """The flow, abridged when a list already returned it, else fetched whole."""
        listed = self.listed_flows.get(sid)
        return listed if listed is not None else await self.flow.load(sid)

    async def known_ended(self, flow_sid: str, sid: str) -> bool:
        """Whether the execution is known ended: this request saw it so, or the shared
        cache holds it (only ended executions are kept), and then primes it here.

        Its children read after this are final and may be kept.
        """
        key = (flow_sid, sid)
        if key in self.execution.answers:
            return seen_ended(self.execution.answers[key])
        cached = await self._keeper.lookup(self.names.execution("exec", flow_sid, sid))
        if cached is None or key in self.execution.answers:
            return seen_ended(self.execution.answers.get(key))
        self.reads.saw(immutable=True)
        self.execution.prime(key, Execution.from_json(decode(cached)))
        return True

    # -- fetches --------------------------------------------------------------

    async def _fetch_flow(self, sid: str) -> Flow:
        self.reads.saw(immutable=False)
        return await self.client.fetch_flow(sid)

    async def _fetch_test_users(self, sid: str) -> TestUsers:
        self.reads.saw(immutable=False)
        return await self.client.fetch_test_users(sid)

    async def _fetch_revision(self, key: RevisionKey) -> FlowRevision:
        flow_sid, ref = key
        if not ref.isdigit():
            # An alias moves as the flow changes: never cached across requests,
            # but once resolved, the numbered revision is this request's too.
            self.reads.saw(immutable=False)
            revision = await self.client.fetch_flow_revision(flow_sid, ref)
            self.flow_revision.prime((flow_sid, str(revision.revision)), revision)
            await self._keeper.store(
                self.names.revision(flow_sid, str(revision.revision)), revision
            )
            return revision
        return await self._keeper.cached(
            self.names.revision(flow_sid, ref),
            FlowRevision.from_json,
            lambda: self.client.fetch_flow_revision(flow_sid, int(ref)),
            keep=True,
        )

    async def _fetch_execution(self, key: ExecutionKey) -> Execution:
        flow_sid, sid = key
        try:
            execution = await self._keeper.cached(
                self.names.execution("exec", flow_sid, sid),
                Execution.from_json,
                lambda: self.client.fetch_execution(flow_sid, sid),
                keep=lambda execution: execution.status is ExecutionStatus.ENDED,
            )
        except BaseException:
            await self._keeper.answered(key, None)
            raise
        # Its children read ahead of this answer are kept, or not, before it is given.
        await self._keeper.answered(key, execution)
        return execution

    async def _fetch_execution_context(self, key: ExecutionKey) -> ExecutionContext:
        flow_sid, sid = key
        return await self._keeper.cached(
            self.names.execution("ctx", flow_sid, sid),
            ExecutionContext.from_json,
            lambda: self.client.fetch_execution_context(flow_sid, sid),
            keep=self._ended_before(flow_sid, sid),
        )

    async def _fetch_step(self, key: StepKey) -> ExecutionStep:
        flow_sid, execution_sid, sid = key
        return await self._keeper.cached(
            self.names.execution("step", flow_sid, execution_sid, sid),
            ExecutionStep.from_json,
            lambda: self.client.fetch_execution_step(flow_sid, execution_sid, sid),
            keep=self._ended_before(flow_sid, execution_sid),
        )

    async def _fetch_step_context(self, key: StepKey) -> StepContext:
        flow_sid, execution_sid, sid = key
        return await self._keeper.cached(
            self.names.execution("stepctx", flow_sid, execution_sid, sid),
            StepContext.from_json,
            lambda: self.client.fetch_step_context(flow_sid, execution_sid, sid),
            keep=self._ended_before(flow_sid, execution_sid),
        )

    async def _fetch_flows_page(self, key: PageKey) -> Page[Flow]:
        self.reads.saw(immutable=False)
        page = await self.client.list_flows(page=key.page)
        for flow in page.items:
            self.listed_flows.setdefault(flow.sid, flow)
        return page

    async def _fetch_revisions_page(self, key: PageKey) -> Page[FlowRevision]:
        (flow_sid,) = key.parent
        self.reads.saw(immutable=False)  # a flow gains revisions
        return await self.client.list_flow_revisions(flow_sid, page=key.page)

    async def _fetch_executions_page(self, key: PageKey) -> Page[Execution]:
        (flow_sid,) = key.parent
        self.reads.saw(immutable=False)
        filters = key.filters
        page = await self.client.list_executions(
            flow_sid,
            status=filters.status,
            date_created_from=filters.date_created_from,
            date_created_to=filters.date_created_to,
            page=key.page,
        )
        for execution in page.items:
            self.execution.prime((flow_sid, execution.sid), execution)
        return page

    async def _fetch_steps_page(self, key: PageKey) -> Page[ExecutionStep]:
        flow_sid, execution_sid = key.parent
        page = await self._keeper.cached(
            self.names.execution("steps", flow_sid, execution_sid, _query(key.paging)),
            _steps_page,
            lambda: self.client.list_execution_steps(flow_sid, execution_sid, page=key.page),
            keep=self._ended_before(flow_sid, execution_sid),
        )
        for step in page.items:
            self.step.prime((flow_sid, execution_sid, step.sid), step)
        return page

    # -- the shared cache -----------------------------------------------------

    def _ended_before(self, flow_sid: str, execution_sid: str) -> bool | AheadOf:
        """`keep` for what belongs to an execution, decided as its read starts
        (`Keeper.children_keep`)."""
        key = (flow_sid, execution_sid)
        return self._keeper.children_keep(key, self.execution.answers.get(key))

    async def validate_flow(self, **fields: Any) -> FlowValidation:
        """Twilio's verdict on a definition (it saves nothing)."""
        self.reads.saw(immutable=False)  # Twilio's rules may change
        return await self.client.validate_flow(**fields)

    def execution_changed(self, key: ExecutionKey) -> None:
        """Drop this operation's answer for an execution that changed: its loader's,
        and the one that decides the reads that went ahead of it."""
        self.execution.clear(key)
        self._keeper.forget(key)


def _steps_page(data: dict[str, Any]) -> Page[ExecutionStep]:
    return Page([ExecutionStep.from_json(row) for row in data["items"]], PageMeta(**data["meta"]))


def _query(params: tuple[tuple[str, str], ...]) -> str:
    return "&".join(f"{k}={v}" for k, v in params)
