"""Watches: one per watched execution (or flow) per process, shared by its subscribers.

A watch listens on the broker for its account and hands each event of its
execution to every subscriber's bounded queue. A subscriber that lets its queue
fill is marked lagging and told so (`Lagged`) at its next read; the others never
wait for it (an execution's subscription fills the gap from the Steps list and
carries on; a flow's ends). Event Streams deliver unordered: in webhook mode a
watch holds each event in a reorder window (`gateway.events.reorder`) so its
subscribers get them in the order they happened. Where no Event Streams come
(`events_source=poll`), the first subscriber whose credentials Twilio accepted
(its own fetch of the execution or flow succeeded: `Subscriber.verified`) starts
its poller (`gateway.events.poller`) with its client, and the last one to leave
stops it. Should Twilio refuse those credentials later (401/403), the subscribers
holding them end (`Refused`) and the poller goes on with another verified
subscriber's credentials, or, with none, stops. What a watch watches being gone
(`EXECUTION_GONE`, `FLOW_GONE`) ends its subscribers (`Gone`); reads failing for
`PollPolicy.retry_for` seconds end them with that failure (`Unavailable`).

While other replicas' events cannot reach this process (the Redis pub/sub
connection failed: `Broker.hearing` is False), a watch polls what it watches
itself, once however many subscribe (its fallback: a poller without a lease
that hands its events to this watch alone); what the broker still brings (this
replica's own webhooks) is held and only wakes the fallback, which reads it in
order. When the connection is back, the fallback polls on for `Live.settle`
seconds (a replica that saw Redis fail skips it that long, so what it publishes
meanwhile never comes), reads once more, and stops; a poll-mode watch's poller
polls without its lease as long. Subscribers see no gap and no error; only a
watch with no verified client to poll with tells its subscribers they lagged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from cachetools import FIFOCache

from gateway.events.broker import Broker
from gateway.events.model import EXECUTION_ENDED, FLOW_GONE, STEP_ENDED, StudioEvent
from gateway.events.poller import Poller, PollPolicy
from gateway.events.reorder import Reorder
from gateway.feeds import Gone, Lagged, Refused, Unavailable, Update
from gateway.shared import SharedRedis
from gateway.studio import StudioClient, StudioError

__all__ = ["Live", "LiveConfig", "LiveObserver", "LiveSettings", "Subscriber", "Watch"]

#: Events a falling-back watch holds until its poller reads them; past it, the
#: poller alone brings them.
MAX_HELD: Final = 1024
#: A flow's (execution, status) pairs a watch remembers having told.
MAX_TOLD: Final = 4096
#: How far back a flow's fallback looks for executions that started or ended: the
#: time a failed connection takes to be noticed, and Twilio's whole seconds.
FLOW_CATCH_UP: Final = timedelta(seconds=30)


class LiveObserver(Protocol):
    """Told of each recovery: `fallback` (a watch polls while other replicas' events
    cannot reach it), `repair` (a gap filled)."""

    def observe_live(self, kind: str) -> None: ...


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

    def lag(self) -> None:
        """Events may have been lost on the way here: say so (`Lagged`) at its next read."""
        self.lagged = True
        self._wake.set()

    async def __aiter__(self) -> AsyncIterator[Update]:
        """Updates until the end; `Lagged` when some were lost, after which the
        subscriber starts afresh (iterate again, once the gap is filled)."""
        while not self._closed:
            if self._ended is not None:
                raise self._ended
            if self.lagged:
                self.lagged = False
                self._waiting.clear()
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
    #: Other replicas' events cannot reach this process now, since `lost_at`.
    away: bool = False
    lost_at: datetime | None = None
    #: The poller this watch runs while they cannot (and a little after).
    fallback: Poller | None = None
    fallback_task: asyncio.Task[None] | None = None
    #: While the fallback reads, the broker's events wait here until it has read them.
    holding: bool = False
    held: dict[tuple[str, str], StudioEvent] = field(default_factory=dict)
    #: A flow's executions told, with the status told (each pair once).
    told: FIFOCache[tuple[str, str], None] = field(
        default_factory=lambda: FIFOCache(maxsize=MAX_TOLD)
    )
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.window = Reorder(self.reorder, self._offer)

    def deliver(self, event: StudioEvent) -> None:
        if event.flow_sid != self.flow_sid:
            return
        if self.execution_sid is not None and event.execution_sid != self.execution_sid:
            return
        if self.execution_sid is None and event.execution is None and event.type != FLOW_GONE:
            return
        if self.holding and self.fallback is not None:
            # The fallback reads it, in order with what the broker did not bring.
            if len(self.held) < MAX_HELD:
                self.held[_key(event)] = event
            self.fallback.poke()
            return
        self.window.add(event)

    def polled(self, event: StudioEvent) -> None:
        """An event of the fallback's: straight to the subscribers (a poller reads in order)."""
        self.held.pop(_key(event), None)
        self._offer(event)

    def release(self) -> None:
        """The fallback reads for the last time: the broker's events go the usual way
        again, those held first."""
        self.holding = False
        held, self.held = self.held, {}
        for event in sorted(held.values(), key=lambda e: (e.ends_execution, e.time)):
            self.window.add(event)

    def close(self) -> None:
        """Stop hearing events (the last subscriber left)."""
        self.stop_listening()
        self.window.close()
        self.held.clear()

    def _offer(self, event: StudioEvent) -> None:
        if self.execution_sid is None and event.execution is not None:
            # A change may come both polled and from the broker, around a fallback.
            told = (event.execution.sid, event.execution.status.value)
            if told in self.told:
                return
            self.told[told] = None  # past MAX_TOLD, the oldest pair is forgotten
        for subscriber in tuple(self.subscribers):
            subscriber.offer(event)


def _key(event: StudioEvent) -> tuple[str, str]:
    """What an event tells, whoever brought it (the webhook or a poller)."""
    return event.type, event.step.sid if event.step is not None else event.execution_sid


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """How live updates are served: the settings' `events_*` and `subscription_queue`."""

    mode: str = "poll"
    queue: int = 256
    #: Seconds an event waits for earlier ones (webhook mode; see `Reorder`).
    reorder: float = 0.0
    poll: PollPolicy = field(default_factory=PollPolicy)

    @property
    def retry_for(self) -> float:
        """Seconds a subscription keeps retrying a failed read before it ends."""
        return self.poll.retry_for

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
                settings.events_retry_for,
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
    @property
    def events_retry_for(self) -> float: ...
    def events_mode(self) -> str: ...


class Live:
    """Every watch of this process; what subscriptions read (`LiveExecutions`)."""

    def __init__(
        self,
        broker: Callable[[], Broker],
        config: LiveConfig | None = None,
        *,
        shared: SharedRedis | None = None,
        observer: LiveObserver | None = None,
    ) -> None:
        self._broker = broker
        self.config = config or LiveConfig()
        self.shared = shared
        self.observer = observer
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
    def retry_for(self) -> float:
        return self.config.retry_for

    @property
    def settle(self) -> float:
        """Seconds a watch polls on once other replicas' events reach it again: a
        replica that saw Redis fail skips it for `retry_interval`, and what it
        publishes meanwhile never comes."""
        if self.shared is None:
            return 0.0
        return 2 * (self.shared.retry_interval + self.shared.timeout)

    @property
    def running(self) -> int:
        """Pollers whose task runs now (polling, or waiting for the lease)."""
        return sum(
            1
            for w in self.watches.values()
            for task in (w.task, w.fallback_task)
            if task is not None and not task.done()
        )

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
            broker = self._broker()
            watch.stop_listening = broker.listen(
                account,
                watch.deliver,
                missed=lambda: self._missed(watch),
                lost=lambda: self._lost(watch),
            )
            if not broker.hearing:
                watch.away, watch.lost_at = True, datetime.now(UTC)
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
        elif watch.away and watch.poller is None and watch.fallback is None:
            self._fall_back(watch, subscriber.client)

    def _start_poller(self, watch: Watch, client: StudioClient) -> None:
        watch.poller = Poller(
            client,
            watch.flow_sid,
            watch.execution_sid,
            publish=lambda event: self._broker().publish(event),
            policy=self.config.poll,
            shared=self.shared,
            refused=lambda refused: self._refused(watch, refused),
            failing=lambda error: self._failing(watch, error, main=True),
        )
        watch.task = asyncio.get_running_loop().create_task(watch.poller.run())
        self.pollers_started += 1

    def _lost(self, watch: Watch) -> None:
        """Other replicas' events no longer reach this process: poll meanwhile (a
        poll-mode watch's own poller polls alone while Redis is away)."""
        watch.away, watch.lost_at = True, datetime.now(UTC)
        client = _trusted(watch)
        if watch.fallback is not None:  # lost again while it finished: it polls on
            watch.holding = True
            watch.fallback.finish_after(None)
        elif watch.poller is None and client is not None:
            self._fall_back(watch, client)

    def _missed(self, watch: Watch) -> None:
        """They reach it again: what was published meanwhile elsewhere is read here."""
        watch.away = False
        client = _trusted(watch)
        if watch.fallback is not None:
            watch.fallback.finish_after(self.settle)
        elif watch.poller is not None:
            watch.poller.alone_for(self.settle)
        elif client is not None:
            self._fall_back(watch, client).finish_after(self.settle)
        else:
            # Nobody verified to read with: each subscription fills the gap itself
            # once its own read succeeded, or (a flow's) ends.
            for subscriber in tuple(watch.subscribers):
                subscriber.lag()
            return
        self._observe("repair")

    def _fall_back(self, watch: Watch, client: StudioClient) -> Poller:
        """Poll what `watch` watches, for this process alone, until told to finish."""
        since = None
        if watch.execution_sid is None:  # a fresh flow poller tells nothing of the past
            lost = watch.lost_at or datetime.now(UTC)
            # Twilio dates are whole seconds: one in the watch's first second counts.
            since = max(watch.started, lost - FLOW_CATCH_UP).replace(microsecond=0)

        async def publish(event: StudioEvent) -> None:
            watch.polled(event)

        poller = Poller(
            client,
            watch.flow_sid,
            watch.execution_sid,
            publish=publish,
            policy=self.config.poll,
            refused=lambda refused: self._refused(watch, refused),
            failing=lambda error: self._failing(watch, error, main=False),
            finishing=watch.release,
            since=since,
        )
        watch.fallback, watch.holding = poller, True
        watch.fallback_task = asyncio.get_running_loop().create_task(self._run(watch, poller))
        self._observe("fallback")
        return poller

    async def _run(self, watch: Watch, poller: Poller) -> None:
        try:
            await poller.run()
        finally:
            if watch.fallback is poller:
                watch.fallback = watch.fallback_task = None
                watch.release()

    def _refused(self, watch: Watch, client: StudioClient) -> StudioClient | None:
        """Twilio refused a poller's credentials: the subscribers that hold them end;
        the poller goes on with another verified subscriber's client, or stops."""
        for subscriber in tuple(watch.subscribers):
            if subscriber.trusted and subscriber.client.credentials == client.credentials:
                subscriber.trusted = False
                subscriber.end(Refused())
        replacement = _trusted(watch)
        if replacement is None and watch.poller is not None and watch.poller.client is client:
            watch.poller, watch.task = None, None
        return replacement

    def _failing(self, watch: Watch, error: StudioError, *, main: bool) -> None:
        """A poller's reads kept failing (it stops): its subscribers end with the failure."""
        if main:
            watch.poller, watch.task = None, None
        for subscriber in tuple(watch.subscribers):
            subscriber.end(Unavailable(error))

    def _observe(self, kind: str) -> None:
        if self.observer is not None:
            self.observer.observe_live(kind)

    def _leave(self, key: tuple[str, str, str | None], subscriber: Subscriber) -> None:
        watch = self.watches.get(key)
        if watch is None:
            return
        watch.subscribers.discard(subscriber)
        if not watch.subscribers:
            del self.watches[key]
            watch.close()
            for task in (watch.task, watch.fallback_task):
                if task is not None:
                    task.cancel()

    async def aclose(self) -> None:
        tasks = [
            task
            for w in self.watches.values()
            for task in (w.task, w.fallback_task)
            if task is not None
        ]
        for watch in list(self.watches.values()):
            watch.close()
        self.watches.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def _trusted(watch: Watch) -> StudioClient | None:
    """A client Twilio accepted of one of the watch's subscribers, if any."""
    for subscriber in watch.subscribers:
        if subscriber.trusted:
            return subscriber.client
    return None
