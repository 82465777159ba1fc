"""What the loaders keep in the shared cache, under which name, and when.

The rule is docs/ARCHITECTURE.md, "What never changes": a revision by number,
and an ended execution with its context, steps and their contexts. An
execution's children are final only when their read started after the
execution had ended, by a margin: a steps list read while it ran, or just as
it ended, may miss its last steps.

A read started ahead of the execution's own answer (`graphql/prefetch.py`)
does not know that when it starts, so it records when it started and waits
in the `Keeper` for that answer. It is kept, exactly as if the execution had
been known ended before, only when the answer proves it complete
(`complete_when_read`); otherwise it serves the one answer it was read for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar

from gateway.cache import Entry, LayeredCache, decode, encode
from gateway.studio import Execution, ExecutionStatus

__all__ = [
    "READ_AHEAD_MARGIN",
    "AheadOf",
    "Answer",
    "EntryNames",
    "ExecutionKey",
    "Keeper",
    "Reads",
    "complete_when_read",
    "execution_tag",
    "seen_ended",
    "settled",
]

V = TypeVar("V")
ExecutionKey = tuple[str, str]  # (flow_sid, execution_sid)


@dataclass(slots=True)
class Answer(Generic[V]):
    """What one operation knows of one key it asked for: on the way, in, or failed."""

    #: Its value once in (None while on the way, or when it failed).
    value: V | None = None
    done: bool = False

    def settle(self, result: V | BaseException) -> None:
        """The fetch is over: `result` is its value or what it raised."""
        self.done = True
        self.value = None if isinstance(result, BaseException) else result


#: How long before a read started its execution must have ended (by the
#: execution's `date_updated`, which Studio sets when it ends) for the read to be
#: complete. The margin covers the skew between Twilio's clock and ours, the lag
#: of Studio writing its step log, and a read joining an identical one already
#: in flight in this process (single flight), which started at most one call
#: deadline earlier (`STUDIO_GATEWAY_CALL_DEADLINE`, 15 s by default; the
#: settings refuse more than 45 s, `settings.core.MAX_CALL_DEADLINE`).
READ_AHEAD_MARGIN: Final = timedelta(seconds=60)


def complete_when_read(
    execution: Execution, started: datetime, margin: timedelta = READ_AHEAD_MARGIN
) -> bool:
    """Whether a read of the execution's children that started at `started` (UTC)
    holds all of them: the execution had ended, by its own record, `margin` before.
    An execution with no `date_updated` never proves it."""
    ended = execution.date_updated
    return (
        execution.status is ExecutionStatus.ENDED
        and ended is not None
        and ended <= started - margin
    )


def settled(execution: Execution, now: datetime, margin: timedelta = READ_AHEAD_MARGIN) -> bool:
    """Whether a read of the children of an execution already seen ended, starting
    at `now` (UTC), holds all of them: its record does not show it ended within
    `margin` (Studio may still be writing its step log, and clocks differ).

    Unlike a read ahead (`complete_when_read`), the status was known before the
    read began, so an execution with no `date_updated` is taken at its status.
    """
    ended = execution.date_updated
    return execution.status is ExecutionStatus.ENDED and (ended is None or ended <= now - margin)


class Reads:
    """What one operation read: objects that can never change, and any others.

    A read that failed counts as one that can change: its error, or a resolver's
    null in its place, may not be the answer next time. A read still waiting for
    its execution's answer (`waiting`) is not known final yet.
    """

    __slots__ = ("immutable", "mutable", "waiting")

    def __init__(self) -> None:
        self.immutable = 0
        self.mutable = 0
        self.waiting = 0

    def saw(self, immutable: bool) -> None:
        if immutable:
            self.immutable += 1
        else:
            self.mutable += 1

    @property
    def only_immutable(self) -> bool:
        """True when something was read and all of it is final.

        What is final: docs/ARCHITECTURE.md, "What never changes".
        """
        return self.immutable > 0 and self.mutable == 0 and self.waiting == 0


@dataclass(frozen=True, slots=True)
class EntryNames:
    """The cache entries of one caller: keys by the credentials, tags by the account."""

    #: The digest of the caller's full credentials (docs/ARCHITECTURE.md).
    scope: str
    account: str

    def tag(self, *path: str) -> str:
        # Tags name the account, not the credentials: a deletion through any
        # credentials evicts what every caller of the account cached.
        return ":".join((self.account, *path))

    def key(self, kind: str, *path: str) -> str:
        return ":".join((self.scope, kind, *path))

    def revision(self, flow_sid: str, number: str) -> Entry:
        # A definition holds no contact's data: it may go to Redis as it is.
        return Entry(self.key("rev", flow_sid, number), pii=False, tags=(self.tag(flow_sid),))

    def execution(self, kind: str, flow_sid: str, execution_sid: str, *rest: str) -> Entry:
        # Executions, steps and contexts carry `context` and the contact's address.
        key = self.key(kind, flow_sid, execution_sid, *rest)
        tags = (self.tag(flow_sid), self.tag(flow_sid, execution_sid))
        return Entry(key, pii=True, tags=tags)


def execution_tag(account_sid: str, flow_sid: str, execution_sid: str) -> str:
    """The cache tag of everything kept for one execution (invalidating it evicts them);
    `EntryNames.tag(flow_sid, execution_sid)` of that account."""
    return ":".join((account_sid, flow_sid, execution_sid))


@dataclass(frozen=True, slots=True)
class AheadOf:
    """`keep` for a read that starts while its execution's answer is on the way."""

    execution: ExecutionKey


@dataclass(slots=True)
class _ReadAhead:
    """A read done ahead of its execution's answer, waiting to know whether to keep it."""

    entry: Entry
    value: Any
    #: When the read started, wall clock, UTC: what `complete_when_read` weighs.
    started: datetime
    #: The fill lock it holds, if any: other replicas wait on it until it is decided.
    lock: contextlib.AsyncExitStack


class Keeper:
    """One operation's reads through the shared cache: what it finds there, and what it
    keeps of what it fetched. It counts every read in `reads`.

    It also holds the operation's reads ahead, by execution, until that
    execution's answer (`answered`) decides them; a read done after that answer
    is decided at once.
    """

    def __init__(self, cache: LayeredCache | None, reads: Reads) -> None:
        self.cache = cache
        self.reads = reads
        #: Cache keys this operation just found absent (`lookup`): not asked again.
        self._absent: set[str] = set()
        self._answers: dict[ExecutionKey, Execution | None] = {}
        self._waiting: dict[ExecutionKey, list[_ReadAhead]] = {}

    async def lookup(self, entry: Entry) -> bytes | None:
        """The entry if the shared cache holds it; a miss is remembered for this operation."""
        if self.cache is None:
            return None
        cached = await self.cache.get(entry)
        if cached is None:
            self._absent.add(entry.key)
        return cached

    async def cached(
        self,
        entry: Entry,
        parse: Callable[[dict[str, Any]], V],
        fetch: Callable[[], Awaitable[V]],
        *,
        keep: Callable[[V], bool] | bool | AheadOf,
    ) -> V:
        """The entry from the cache, else fetched, and kept if `keep` says it is final."""
        if isinstance(keep, AheadOf):
            return await self._read_ahead(entry, parse, fetch, keep.execution)
        if self.cache is not None:
            cached = None if entry.key in self._absent else await self.cache.get(entry)
            if cached is not None:
                self.reads.saw(immutable=True)  # only what never changes is ever stored
                return parse(decode(cached))
            if keep is False:
                # Not to be kept whatever it holds: other replicas need not wait for it.
                return await self._fetch_and_keep(entry, fetch, keep)
            # Missed here and in Redis: one replica fetches, the others wait for its entry.
            async with self.cache.filling(entry) as filled:
                if filled is not None:
                    self.reads.saw(immutable=True)
                    return parse(decode(filled))
                return await self._fetch_and_keep(entry, fetch, keep)
        return await self._fetch_and_keep(entry, fetch, keep)

    async def store(self, entry: Entry, value: Any) -> None:
        if self.cache is not None:
            await self.cache.set(entry, encode(value))

    # -- reads ahead of their execution's answer --------------------------------

    def children_keep(
        self, execution: ExecutionKey, answer: Answer[Execution] | None
    ) -> bool | AheadOf:
        """`keep` for a read of the execution's children, decided as it starts, from
        this operation's `answer` for the execution: a read that began while the
        execution ran may miss its last steps, even when the execution is seen ended
        by the time it returns; so may one that begins just after it ended
        (`settled`). While the answer is on the way, it is a read ahead."""
        if answer is None or answer.done:
            return (
                answer is not None
                and answer.value is not None
                and seen_ended(answer)
                and settled(answer.value, datetime.now(UTC))
            )
        if execution in self._answers:  # answered, its loader not yet told
            known = self._answers[execution]
            return known is not None and settled(known, datetime.now(UTC))
        return AheadOf(execution)

    async def answered(self, execution: ExecutionKey, answer: Execution | None) -> None:
        """The execution's answer is in (None: its fetch failed): decide the reads that
        went ahead of it, before the answer is given."""
        self._answers[execution] = answer
        await self._decide(answer, self._waiting.pop(execution, []))

    def forget(self, execution: ExecutionKey) -> None:
        """The execution changed: its answer here is no longer its state."""
        self._answers.pop(execution, None)

    async def _read_ahead(
        self,
        entry: Entry,
        parse: Callable[[dict[str, Any]], V],
        fetch: Callable[[], Awaitable[V]],
        execution: ExecutionKey,
    ) -> V:
        """Its value is used at once, and kept once the execution's answer proves it
        complete. It may be kept, so it takes the fill lock like any read to keep and
        holds it until that answer decides: replicas missing it at once wait for it."""
        lock = contextlib.AsyncExitStack()
        if self.cache is not None:
            cached = None if entry.key in self._absent else await self.cache.get(entry)
            if cached is None:
                cached = await lock.enter_async_context(self.cache.filling(entry))
            if cached is not None:
                await lock.aclose()
                self.reads.saw(immutable=True)
                return parse(decode(cached))
        try:
            started = datetime.now(UTC)
            value = await fetch()
        except BaseException:
            await lock.aclose()
            self.reads.saw(immutable=False)
            raise
        read = _ReadAhead(entry, value, started, lock)
        self.reads.waiting += 1
        if execution in self._answers:
            await self._decide(self._answers[execution], [read])
        else:
            self._waiting.setdefault(execution, []).append(read)
        return value

    async def _decide(self, execution: Execution | None, reads: list[_ReadAhead]) -> None:
        """Keep each read that the execution's answer proves complete (None proves
        nothing), as if it had been known ended; then let go of its fill lock."""

        async def decide(read: _ReadAhead) -> None:
            async with read.lock:
                final = execution is not None and complete_when_read(execution, read.started)
                self.reads.waiting -= 1
                self.reads.saw(final)
                if final:
                    await self.store(read.entry, read.value)

        await asyncio.gather(*(decide(read) for read in reads))

    async def _fetch_and_keep(
        self, entry: Entry, fetch: Callable[[], Awaitable[V]], keep: Callable[[V], bool] | bool
    ) -> V:
        try:
            value = await fetch()
        except BaseException:
            self.reads.saw(immutable=False)
            raise
        final = keep if isinstance(keep, bool) else keep(value)
        self.reads.saw(final)
        if final:
            await self.store(entry, value)
        return value


def seen_ended(answer: Answer[Execution] | None) -> bool:
    """Whether this answer for an execution is in and says it ended."""
    if answer is None or answer.value is None:
        return False
    return answer.value.status is ExecutionStatus.ENDED
