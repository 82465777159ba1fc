"""Where events meet subscribers: published once, heard by every listener of the account.

`LocalBroker` serves one process. The Redis broker (`gateway.events.redis`)
carries the same calls across replicas through pub/sub, per account, so an
event that reached replica A is heard on replica B.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from gateway.events.model import StudioEvent

logger = logging.getLogger("gateway.events")

#: Called with each event of the account; must not block (queue it and return).
Listener = Callable[[StudioEvent], None]
#: Called when events of the account may have been lost on the way here (`missed`),
#: or when other replicas' events stop reaching this process (`lost`).
Missed = Callable[[], None]


def _nothing() -> None:
    pass


class Broker(Protocol):
    """Publish events; listen to one account's."""

    async def publish(self, event: StudioEvent) -> None: ...

    @property
    def hearing(self) -> bool:
        """Whether events published on other replicas reach this process now."""
        ...

    def listen(
        self,
        account_sid: str,
        listener: Listener,
        missed: Missed | None = None,
        lost: Missed | None = None,
    ) -> Callable[[], None]:
        """Call `listener` with every event of `account_sid`, `lost` when other
        replicas' events stop reaching this process, and `missed` when they reach it
        again (some may have been lost meanwhile); returns what stops it."""
        ...

    async def aclose(self) -> None: ...


class LocalBroker:
    """Events within one process: publish calls each listener of the account."""

    def __init__(self) -> None:
        #: Each account's listeners, and what each is told when events are lost
        #: (`missed`, `lost`).
        self._listeners: dict[str, dict[Listener, tuple[Missed, Missed]]] = {}

    def __repr__(self) -> str:
        return f"LocalBroker(accounts={len(self._listeners)})"

    async def publish(self, event: StudioEvent) -> None:
        self.deliver(event)

    @property
    def hearing(self) -> bool:
        return True  # one process: nothing is published elsewhere

    def deliver(self, event: StudioEvent) -> None:
        """Hand `event` to this process's listeners of its account."""
        for listener in tuple(self._listeners.get(event.account_sid, ())):
            try:
                listener(event)
            except Exception:  # one listener's fault must not starve the others
                logger.exception("an event listener failed (%s)", event.type)

    def listen(
        self,
        account_sid: str,
        listener: Listener,
        missed: Missed | None = None,
        lost: Missed | None = None,
    ) -> Callable[[], None]:
        self._listeners.setdefault(account_sid, {})[listener] = (
            missed or _nothing,
            lost or _nothing,
        )

        def stop() -> None:
            listeners = self._listeners.get(account_sid)
            if listeners is not None:
                listeners.pop(listener, None)
                if not listeners:
                    del self._listeners[account_sid]

        return stop

    def missed(self) -> None:
        """Tell every listener that events may have been lost (a carrier was away)."""
        self._tell(0, "missed events")

    def lost(self) -> None:
        """Tell every listener that other replicas' events no longer reach it."""
        self._tell(1, "events lost")

    def _tell(self, which: int, what: str) -> None:
        for listeners in tuple(self._listeners.values()):
            for callbacks in tuple(listeners.values()):
                try:
                    callbacks[which]()
                except Exception:
                    logger.exception("an event listener failed (%s)", what)

    def listening(self, account_sid: str) -> int:
        """How many listeners `account_sid` has in this process."""
        return len(self._listeners.get(account_sid, ()))

    async def aclose(self) -> None:
        self._listeners.clear()
