"""What subscription updates read upstream: shared among their subscribers, and paid for.

An update (a step an execution took, an execution that started or ended) comes
once to every subscriber that watches it, and each resolves its own selection
on it. Twenty subscribers asking the same nested read of the same update would
each make the call; they share one: the loaders an update's selection reads
through are the same for every subscriber of that update with the same
credentials (`UpdateReads.shared`, keyed by the update itself, the record every
subscriber of a watch is handed), so a read one of them made is the others'
answer. Different reads still cost a call each; so every update a principal's
subscription resolves is paid from the principal's budget of calls a minute
(`CallBudget`), at the subscription's price per update
(`gateway.graphql.update_cost`), unless the same operation with the same
variables was already paid for on that update: its reads are all made (or
being made) already, and cost nothing more. Past the budget the update is still
sent, and its nested fields answer `RATE_LIMITED` instead of calling Twilio.

Per process, as the WebSocket connections are: a replica bounds what its own
subscribers make it call.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from gateway.loaders import Loaders
from gateway.security.principal import principal_of, quota_key
from gateway.studio import Reason, StudioClient, StudioError

if TYPE_CHECKING:
    from gateway.graphql.context import Info

__all__ = ["CallBudget", "UpdateReads", "reads_for", "update_loaders"]

#: Updates whose reads are kept for late subscribers; an update past it is read anew.
KEEP = 64
#: Principals' buckets kept at most; full ones (idle principals) go first.
_MOST_BUCKETS = 10_000


class CallBudget:
    """Each principal's calls a minute: a bucket that holds `per_minute` and fills at
    `per_minute` a minute (so a quiet principal may spend a minute's worth at once)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        #: By `quota_key`: tokens left, and when they were counted.
        self._buckets: dict[str, tuple[float, float]] = {}

    def __repr__(self) -> str:
        return f"CallBudget(per_minute={self.per_minute}, principals={len(self._buckets)})"

    def take(self, who: str, calls: int) -> float | None:
        """Spend `calls` of `who`'s budget: None when spent, else the seconds until the
        budget would hold them (nothing is spent then)."""
        if self.per_minute <= 0 or calls <= 0:
            return None
        now = self._clock()
        left, then = self._buckets.get(who, (float(self.per_minute), now))
        rate = self.per_minute / 60.0
        left = min(float(self.per_minute), left + (now - then) * rate)
        if left >= calls:
            self._buckets[who] = (left - calls, now)
            if len(self._buckets) > _MOST_BUCKETS:
                self._forget_full(now)
            return None
        self._buckets[who] = (left, now)
        return (calls - left) / rate

    def _forget_full(self, now: float) -> None:
        rate = self.per_minute / 60.0
        for who, (left, then) in list(self._buckets.items()):
            if left + (now - then) * rate >= self.per_minute:
                del self._buckets[who]


class UpdateReads:
    """One process's shared update reads and call budget (`Gateway.updates`)."""

    def __init__(self, budget: CallBudget, keep: int = KEEP) -> None:
        self.budget = budget
        self.keep = keep
        #: By the update's identity and the credentials' digest: the update (so the
        #: identity cannot be reused while kept) and the loaders its reads went through.
        self._recent: OrderedDict[tuple[int, str], tuple[object, Loaders]] = OrderedDict()
        #: By an update's shared loaders: the selections paid for on them.
        self._paid: WeakKeyDictionary[Loaders, set[Hashable]] = WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"UpdateReads(updates={len(self._recent)}, budget={self.budget!r})"

    def shared(self, update: object, new_loaders: Callable[[], Loaders]) -> Loaders:
        """The loaders of `update` for these credentials: the first subscriber's, for
        every other one."""
        fresh = new_loaders()
        key = (id(update), fresh.client.credentials.digest)
        kept = self._recent.get(key)
        if kept is not None and kept[0] is update:
            self._recent.move_to_end(key)
            return kept[1]
        self._recent[key] = (update, fresh)
        self._paid[fresh] = set()
        while len(self._recent) > self.keep:
            self._recent.popitem(last=False)
        return fresh

    def pay(self, who: str, loaders: Loaders, selection: Hashable, price: int) -> float | None:
        """Spend `price` of `who`'s budget for reading `selection` through `loaders`:
        None when paid (or already paid for on these shared loaders), else the
        seconds until the budget would hold it."""
        paid = self._paid.get(loaders)
        if paid is not None and selection in paid:
            return None
        wait = self.budget.take(who, price)
        if wait is None and paid is not None:
            paid.add(selection)
        return wait


def update_loaders(info: Info, update: object) -> Loaders:
    """The loaders `update` is read through: those every subscriber of it with the same
    credentials shares; new ones where no WebSocket door made this context (bare tests)."""
    context = info.context
    updates: UpdateReads | None = getattr(context, "updates", None)
    if updates is None:
        return context.new_loaders()
    return updates.shared(update, context.new_loaders)


def reads_for(info: Info, loaders: Loaders, price: int) -> Loaders:
    """Pay `price` for the update about to be sent and make `loaders` the context's (its
    selection reads through them); past the principal's budget, loaders that answer
    every read `RATE_LIMITED` instead."""
    context = info.context
    updates: UpdateReads | None = getattr(context, "updates", None)
    if updates is not None:
        wait = updates.pay(_who(context), loaders, _selection(info), price)
        if wait is not None:
            loaders = _refusing(loaders, wait, updates.budget.per_minute)
    context.loaders = loaders
    return loaders


def _selection(info: Info) -> Hashable:
    """What the operation reads of each update: its document (parsed once per distinct
    text, `gateway.graphql.documents`) and its variables."""
    variables = sorted(info.variable_values.items())
    return id(info.operation), repr(variables)


def _who(context: Any) -> str:
    client = getattr(getattr(context, "request", None), "client", None)
    return quota_key(principal_of(context), client.host if client else None)


def _refusing(loaders: Loaders, wait: float, per_minute: int) -> Loaders:
    message = (
        f"these credentials' subscriptions spent their {per_minute} upstream calls a minute "
        "(STUDIO_GATEWAY_SUBSCRIPTION_CALLS_PER_MINUTE): this update's nested fields were "
        "not read; the updates go on"
    )
    client = _OverBudget(loaders.client, message, math.ceil(wait))
    return Loaders(client, None, observer=loaders.observer)


class _OverBudget(StudioClient):
    """A client that sends nothing: every call fails as held back (`RATE_LIMITED`)."""

    def __init__(self, client: StudioClient, message: str, retry_after: float) -> None:
        super().__init__(client.transport, client.credentials)
        self._message, self._retry_after = message, retry_after

    def _refusal(self) -> StudioError:
        return StudioError(self._message, reason=Reason.RATE_LIMITED, retry_after=self._retry_after)

    async def _get(
        self,
        route: str,
        path: str,
        decode: Callable[[Any], Any],
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        raise self._refusal()

    async def _post(self, route: str, path: str, form: Any, *, creates: bool = False) -> Any:
        raise self._refusal()

    async def _delete(self, route: str, path: str) -> None:
        raise self._refusal()
