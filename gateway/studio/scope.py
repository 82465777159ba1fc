"""Call scopes: the upstream calls made on behalf of one request, bounded together.

A layer above (the GraphQL operation, the HTTP request) opens a scope with
`call_scope(seconds)`; every `Transport` call made inside it, in whatever task
(DataLoader batches run in tasks of their own, which inherit the scope through
`contextvars`), then ends by the scope's deadline, and `CallScope.cancel()`
ends them all at once. An ended call fails as an ordinary
`StudioError(reason=TIMEOUT)`, so the caller's error handling builds the
partial answer as it would for any other timeout: nothing is torn down from
outside, no future is left pending.

Scopes nest: a child's deadline is the earlier of its own and its parent's, and
cancelling the parent cancels the child's calls too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar

_current: ContextVar[CallScope | None] = ContextVar("studio_call_scope", default=None)


class CallScope:
    """A deadline shared by a group of calls, and a way to end them early."""

    __slots__ = ("_deadline", "_timeouts", "cancelled", "parent")

    def __init__(self, deadline: float | None = None, parent: CallScope | None = None) -> None:
        #: Absolute, on the event loop's clock; None for no deadline of its own.
        self._deadline = deadline
        self.parent = parent
        self.cancelled = False
        self._timeouts: set[asyncio.Timeout] = set()

    def __repr__(self) -> str:
        return f"CallScope(deadline={self.deadline!r}, cancelled={self.cancelled})"

    @property
    def deadline(self) -> float | None:
        """The effective deadline: the earliest of this scope's and its parents'."""
        own = -math.inf if self.cancelled else self._deadline
        above = self.parent.deadline if self.parent is not None else None
        if own is None:
            return above
        return own if above is None else min(own, above)

    def remaining(self) -> float | None:
        deadline = self.deadline
        return None if deadline is None else deadline - asyncio.get_running_loop().time()

    def cancel(self) -> None:
        """End every call in this scope now; calls started later fail at once."""
        self.cancelled = True
        now = asyncio.get_running_loop().time()
        for timeout in list(self._timeouts):
            if not timeout.expired():
                timeout.reschedule(now)

    @contextlib.asynccontextmanager
    async def bound(self, deadline: float | None) -> AsyncIterator[None]:
        """Raise TimeoutError in the block at `deadline` (loop time), at the scope's
        deadline, or when the scope (or a parent) is cancelled, whichever comes first."""
        effective = self.deadline
        if deadline is not None:
            effective = deadline if effective is None else min(effective, deadline)
        async with asyncio.timeout_at(effective) as timeout:
            scopes = self._chain()
            for scope in scopes:
                scope._timeouts.add(timeout)
            try:
                yield
            finally:
                for scope in scopes:
                    scope._timeouts.discard(timeout)

    def _chain(self) -> list[CallScope]:
        scopes: list[CallScope] = []
        scope: CallScope | None = self
        while scope is not None:
            scopes.append(scope)
            scope = scope.parent
        return scopes


def current_scope() -> CallScope | None:
    """The scope of the calls made here, if any."""
    return _current.get()


@contextlib.contextmanager
def call_scope(seconds: float | None = None, *, detached: bool = False) -> Iterator[CallScope]:
    """Run the block's upstream calls in a new scope ending `seconds` from now.

    Inside an existing scope the new one is its child, unless `detached`: a
    scope of its own, for a bounded call that must be made even though the
    current scope's deadline has passed (finding out what became of a create
    whose answer that deadline cut off). Leaving the block restores the
    previous scope; it never cancels anything.
    """
    parent = _current.get()
    deadline = None if seconds is None else asyncio.get_running_loop().time() + seconds
    scope = CallScope(deadline, None if detached else parent)
    _current.set(scope)
    try:
        yield scope
    finally:
        # set(), not reset(token): a hook may leave the block in another context
        # (a copied one), where a token from this one would be refused.
        _current.set(parent)


def enter_scope(scope: CallScope | None) -> None:
    """Make `scope` current in this context (for code that cannot use a `with` block)."""
    _current.set(scope)
