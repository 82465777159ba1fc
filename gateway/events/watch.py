"""Watches: one per watched execution (or flow) per process, shared by its subscribers.

A watch listens on the broker for its account and hands each event of its
execution to every subscriber's bounded queue. A subscriber that lets its queue
fill is marked lagging and told so (`Lagged`) at its next read, then ends; the
others never wait for it. Event Streams deliver unordered: in webhook mode a
watch holds each event in a reorder window (`gateway.events.reorder`) so its
subscribers get them in the order they happened. Where no Event Streams come
(`events_source=poll`), the first subscriber whose credentials Twilio accepted
(its own fetch of the execution or flow succeeded: `Subscriber.verified`) starts
its poller (`gateway.events.poller`) with its client, and the last one to leave
stops it. Should Twilio refuse those credentials later (401/403), the subscribers
holding them end (`Refused`) and the poller goes on with another verified
subscriber's credentials, or, with none, stops. What a watch watches being gone
(`EXECUTION_GONE`, `FLOW_GONE`) ends its subscribers (`Gone`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.events.broker import Broker
from gateway.events.model import EXECUTION_ENDED, FLOW_GONE, STEP_ENDED, StudioEvent
from gateway.events.poller import Poller, PollPolicy
from gateway.events.reorder import Reorder
from gateway.feeds import Gone, Lagged, Refused, Update
from gateway.shared import SharedRedis
from gateway.studio import StudioClient

__all__ = ["Live", "LiveConfig", "LiveSettings", "Subscriber", "Watch"]


class Subscriber:
    """One subscription's queue of events: at most `bound` waiting."""

    def __init__(
        self,
        bound: int,
        client: StudioClient,
        *,
        steps: bool,
        leave: Callable[[Subscriber], None],
        verify: Callable[[Subscriber], None] = lambda s: None,
    ) -> None:
        self.bound = bound
        self.client = client
        self.lagged = False
        #: Twilio accepted its client's credentials (its own fetch succeeded).
        self.trusted = False
        self._steps = steps
        self._leave = leave
        self._verify = verify
        self._ended: Exception | None = None
        self._waiting: list[StudioEvent] = []
        self._wake = asyncio.Event()
        self._closed = False

    def __repr__(self) -> str:
        return f"Subscriber(waiting={len(self._waiting)}, lagged={self.lagged})"

    def offer(self, event: StudioEvent) -> None:
        """Queue `event`; never blocks. A full queue marks the subscriber lagging."""
        if self._closed or self.lagged:
            return
        if len(self._waiting) >= self.bound:
            self.lagged = True
        else:
            self._waiting.append(event)
        self._wake.set()

    def verified(self) -> None:
        """Twilio accepted this subscriber's credentials: its client may poll."""
        self._verify(self)

    def end(self, error: Exception) -> None:
        """End the subscription with `error` at its next read."""
        self._ended = error
        self._wake.set()

    async def __aiter__(self) -> AsyncIterator[Update]:
        while not self._closed:
            if self._ended is not None:
                raise self._ended
            if self.lagged:
                raise Lagged()
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            # What arrived together goes out in the order it happened; the end last.
            batch = sorted(self._waiting, key=lambda e: (e.ends_execution, e.time))
            self._waiting.clear()
            for event in batch:
                if event.gone:
                    raise Gone()
                record = _record(event, steps=self._steps)
                if record is not None:
                    yield record
                if self._steps and event.ends_execution:
                    return

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wake.set()
            self._leave(self)


def _record(event: StudioEvent, *, steps: bool) -> Update | None:
    if steps:
        if event.type == STEP_ENDED:
            return event.step
        return event.execution if event.type == EXECUTION_ENDED else None
    return event.execution


@dataclass(eq=False)
class Watch:
    """One execution (or, with `execution_sid` None, one flow) watched in this process."""

    account_sid: str
    flow_sid: str
    execution_sid: str | None
    subscribers: set[Subscriber] = field(default_factory=set)
    stop_listening: Callable[[], None] = lambda: None
    poller: Poller | None = None
    task: asyncio.Task[None] | None = None
    #: Seconds an event is held for earlier ones (see `gateway.events.reorder`).
    reorder: float = 0.0
    window: Reorder = field(init=False)

    def __post_init__(self) -> None:
        self.window = Reorder(self.reorder, self._offer)

    def deliver(self, event: StudioEvent) -> None:
        if event.flow_sid != self.flow_sid:
            return
        if self.execution_sid is not None and event.execution_sid != self.execution_sid:
            return
        if self.execution_sid is None and event.execution is None and event.type != FLOW_GONE:
            return
        self.window.add(event)

    def missed(self) -> None:
        """Events may have been lost on the way here: each subscriber ends (`Lagged`),
        to subscribe again and read the past first."""
        for subscriber in tuple(self.subscribers):
            subscriber.end(Lagged())

    def close(self) -> None:
        """Stop hearing events (the last subscriber left)."""
        self.stop_listening()
        self.window.close()

    def _offer(self, event: StudioEvent) -> None:
        for subscriber in tuple(self.subscribers):
            subscriber.offer(event)


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """How live updates are served: the settings' `events_*` and `subscription_queue`."""

    mode: str = "poll"
    queue: int = 256
    #: Seconds an event waits for earlier ones (webhook mode; see `Reorder`).
    reorder: float = 0.0
    poll: PollPolicy = field(default_factory=PollPolicy)

    @classmethod
    def configured(cls, settings: LiveSettings) -> LiveConfig:
        """The settings' choice: where events come from, polling, queues."""
        mode = settings.events_mode()
        return cls(
            mode=mode,
            queue=settings.subscription_queue,
            # A poller publishes in order; only deliveries from Twilio come unordered.
            reorder=settings.events_reorder_window if mode == "webhook" else 0.0,
            poll=PollPolicy(
                settings.events_poll_interval,
                settings.events_poll_max_interval,
                settings.events_poll_lease,
            ),
        )


class LiveSettings(Protocol):
    """The settings read here (`gateway.settings.Settings` has them all)."""

    @property
    def subscription_queue(self) -> int: ...
    @property
    def events_reorder_window(self) -> float: ...
    @property
    def events_poll_interval(self) -> float: ...
    @property
    def events_poll_max_interval(self) -> float: ...
    @property
    def events_poll_lease(self) -> float: ...
    def events_mode(self) -> str: ...


class Live:
    """Every watch of this process; what subscriptions read (`LiveExecutions`)."""

    def __init__(
        self,
        broker: Callable[[], Broker],
        config: LiveConfig | None = None,
        *,
        shared: SharedRedis | None = None,
    ) -> None:
        self._broker = broker
        self.config = config or LiveConfig()
        self.shared = shared
        self.watches: dict[tuple[str, str, str | None], Watch] = {}
        #: Pollers started since start (a count: it never grows with what is named).
        self.pollers_started = 0

    def __repr__(self) -> str:
        return f"Live(mode={self.config.mode!r}, watches={len(self.watches)})"

    def execution(self, client: StudioClient, flow_sid: str, execution_sid: str) -> Subscriber:
        return self._join(client, flow_sid, execution_sid)

    def flow(self, client: StudioClient, flow_sid: str) -> Subscriber:
        return self._join(client, flow_sid, None)

    def pollers(self) -> list[Poller]:
        """The pollers of the watches now (a replica's candidates, with Redis)."""
        return [w.poller for w in self.watches.values() if w.poller is not None]

    @property
    def running(self) -> int:
        """Pollers whose task runs now (polling, or waiting for the lease)."""
        return sum(1 for w in self.watches.values() if w.task is not None and not w.task.done())

    @property
    def subscriptions(self) -> int:
        """Subscribers this process serves now."""
        return sum(len(w.subscribers) for w in self.watches.values())

    def _join(self, client: StudioClient, flow_sid: str, execution_sid: str | None) -> Subscriber:
        account = client.credentials.account_sid
        key = (account, flow_sid, execution_sid)
        watch = self.watches.get(key)
        if watch is None:
            watch = Watch(account, flow_sid, execution_sid, reorder=self.config.reorder)
            self.watches[key] = watch
            watch.stop_listening = self._broker().listen(account, watch.deliver, watch.missed)
        subscriber = Subscriber(
            self.config.queue,
            client,
            steps=execution_sid is not None,
            leave=lambda s: self._leave(key, s),
            verify=lambda s: self._verified(key, s),
        )
        watch.subscribers.add(subscriber)
        return subscriber

    def _verified(self, key: tuple[str, str, str | None], subscriber: Subscriber) -> None:
        """A subscriber's credentials were accepted: the watch polls with them if none does."""
        watch = self.watches.get(key)
        if watch is None or subscriber not in watch.subscribers:
            return
        subscriber.trusted = True
        if self.config.mode == "poll" and watch.poller is None:
            self._start_poller(watch, subscriber.client)

    def _start_poller(self, watch: Watch, client: StudioClient) -> None:
        watch.poller = Poller(
            client,
            watch.flow_sid,
            watch.execution_sid,
            publish=lambda event: self._broker().publish(event),
            policy=self.config.poll,
            shared=self.shared,
            refused=lambda refused: self._refused(watch, refused),
        )
        watch.task = asyncio.get_running_loop().create_task(watch.poller.run())
        self.pollers_started += 1

    def _refused(self, watch: Watch, client: StudioClient) -> StudioClient | None:
        """Twilio refused the poller's credentials: the subscribers that hold them end;
        the poller goes on with another verified subscriber's client, or stops."""
        for subscriber in tuple(watch.subscribers):
            if subscriber.trusted and subscriber.client.credentials == client.credentials:
                subscriber.trusted = False
                subscriber.end(Refused())
        for subscriber in watch.subscribers:
            if subscriber.trusted:
                return subscriber.client
        watch.poller, watch.task = None, None
        return None

    def _leave(self, key: tuple[str, str, str | None], subscriber: Subscriber) -> None:
        watch = self.watches.get(key)
        if watch is None:
            return
        watch.subscribers.discard(subscriber)
        if not watch.subscribers:
            del self.watches[key]
            watch.close()
            if watch.task is not None:
                watch.task.cancel()

    async def aclose(self) -> None:
        tasks = [w.task for w in self.watches.values() if w.task is not None]
        for watch in list(self.watches.values()):
            watch.close()
        self.watches.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
