"""What the loaders keep in the shared cache, under which name, and when.

The rule is docs/ARCHITECTURE.md, "What never changes": a revision by number,
and an ended execution with its context, steps and their contexts. An
execution's children are final only when their read started after the
execution had ended: a steps list read while it ran may miss its last steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.cache import Entry, LayeredCache, decode, encode
from gateway.studio import Execution, ExecutionStatus

__all__ = [
    "EntryNames",
    "ExecutionKey",
    "Keeper",
    "Reads",
    "execution_tag",
    "seen_ended",
]

V = TypeVar("V")
ExecutionKey = tuple[str, str]  # (flow_sid, execution_sid)


class Reads:
    """What one operation read: objects that can never change, and any others.

    A read that failed counts as one that can change: its error, or a resolver's
    null in its place, may not be the answer next time.
    """

    __slots__ = ("immutable", "mutable")

    def __init__(self) -> None:
        self.immutable = 0
        self.mutable = 0

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
        return self.immutable > 0 and self.mutable == 0


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


class Keeper:
    """One operation's reads through the shared cache: what it finds there, and what it
    keeps of what it fetched. It counts every read in `reads`."""

    def __init__(self, cache: LayeredCache | None, reads: Reads) -> None:
        self.cache = cache
        self.reads = reads
        #: Cache keys this operation just found absent (`lookup`): not asked again.
        self._absent: set[str] = set()

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
        keep: Callable[[V], bool] | bool,
    ) -> V:
        """The entry from the cache, else fetched, and kept if `keep` says it is final."""
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


def seen_ended(answer: asyncio.Future[Execution] | None) -> bool:
    """Whether this answer for an execution is in and says it ended."""
    if answer is None or not answer.done() or answer.cancelled() or answer.exception():
        return False
    return answer.result().status is ExecutionStatus.ENDED
