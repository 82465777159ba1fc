"""The live port: what subscriptions read and the events layer provides.

`graphql/subscription.py` reads live updates through `LiveExecutions`;
`gateway.events.watch.Live` implements it. Both import this module, which
imports only `gateway.studio`, so neither layer loads the other to agree on
the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from gateway import studio

__all__ = ["Feed", "Gone", "Lagged", "LiveExecutions", "Refused", "Unavailable", "Update"]

#: One live update: a step the execution took, or the execution once it changed.
Update = studio.ExecutionStep | studio.Execution


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
