"""The broker across replicas: Redis pub/sub, one channel per account.

An event published on replica A is handed to A's own listeners at once and
sent on `<prefix>events:<account SID>`; every other replica's one listener
task (a pattern subscription over all accounts' channels) hands it to its
listeners. Each message names the process that sent it, so A does not hear its
own events twice.

Redis being away never loses an event here: the publisher's own listeners
already have it, and the listener task subscribes again when Redis is back.
What other replicas publish meanwhile never reaches this one (pub/sub keeps
nothing): its listeners are told when the connection fails (`LocalBroker.lost`:
the watches poll what they watch) and when it is subscribed again
(`LocalBroker.missed`: they fill the gap; see `gateway.events.watch`). A pub/sub
connection that stops answering (half-open) is found by pinging it whenever
nothing was heard for `health_interval` seconds, and counts as Redis away.

Events carry contact addresses, and personal data reaches Redis only sealed:
with the cache cipher the payload is sealed (the channel bound in); without it
an execution's `contact_channel_address` and `context`, and a step's `context`
(a polled event carries whole REST records), stay in the publishing process,
and other replicas get them as None (fetched when selected: subscriptions read
contexts through the loaders anyway). Nothing of a payload is ever logged.

A message is the event and when it was published; sealed, its channel and
sending process are the AES-GCM associated data, so a message moved to another
account's channel, or re-sent as another process's, does not open. Each
process hands a given event id to its listeners once (`RecentIds`: for
`SEEN_FOR` seconds, at most `MAX_SEEN` ids), whether it published the event or
heard it, and refuses a message published more than `MAX_AGE` seconds from its
own clock, so a message captured and published again is dropped: as a repeat
while its id is remembered, as stale after. (Past `MAX_SEEN` ids within
`SEEN_FOR` seconds, over 800 events a second in one process, the oldest are
forgotten early, and a replay of one of them within `MAX_AGE` would pass.)
Without the cipher the same checks apply, but nothing proves who wrote a
message: anyone who can publish on that Redis can forge one, so Redis must be
trusted then (README: set `STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Final

import orjson

from gateway.cache import CacheCipher, encode
from gateway.events.broker import Listener, LocalBroker, Missed
from gateway.events.dedup import RecentIds
from gateway.events.model import StudioEvent
from gateway.shared import RedisUnavailable, SharedRedis
from gateway.studio.records import Execution, ExecutionStep, parse_datetime

logger = logging.getLogger("gateway.events")

_SEPARATOR: Final = b"\n"
#: Seconds between a message's publishing and its arrival (by each replica's clock)
#: past which it is refused: pub/sub delivers at once, so this is clock skew.
MAX_AGE: Final = 60.0
#: How long, and how many, event ids each process remembers handing on: twice
#: `MAX_AGE`, so a message from a clock up to `MAX_AGE` ahead is remembered until
#: it is stale.
SEEN_FOR: Final = 2 * MAX_AGE
MAX_SEEN: Final = 100_000


class RedisBroker:
    """Publish to every replica's listeners of the account through Redis pub/sub."""

    def __init__(
        self,
        shared: SharedRedis,
        *,
        cipher: CacheCipher | None = None,
        health_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.shared = shared
        self.cipher = cipher
        self.health_interval = health_interval
        #: Wall-clock seconds: what a message's publishing time is stamped and checked by.
        self._clock = clock
        self.local = LocalBroker()
        #: Messages from other replicas handed on, those dropped as unreadable, and those
        #: refused as repeats or stale (replays).
        self.heard = 0
        self.unreadable = 0
        self.refused = 0
        self._handed_on = RecentIds(ttl=SEEN_FOR, max_ids=MAX_SEEN)
        #: Times the pub/sub connection failed (Redis away, or no answer to a ping).
        self.failures = 0
        self._origin = secrets.token_hex(8).encode()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._reconnected = False
        self._lost = False

    def __repr__(self) -> str:
        return f"RedisBroker(prefix={self.shared.prefix!r}, sealed={self.cipher is not None})"

    def channel(self, account_sid: str) -> str:
        return self.shared.prefix + "events:" + account_sid

    async def publish(self, event: StudioEvent) -> None:
        """Hand `event` to this process's listeners, then to every other replica's
        (unless its id was handed on here already: then they have it too)."""
        if not self._first(event):
            return
        self.local.deliver(event)
        channel = self.channel(event.account_sid)
        sealed = self._seal(channel, encode({"event": self._wire(event), "sent": self._clock()}))
        message = self._origin + _SEPARATOR + sealed
        with contextlib.suppress(RedisUnavailable):  # this process's listeners have it
            await self.shared.run(lambda client: client.publish(channel, message))

    @property
    def hearing(self) -> bool:
        """False from a failure of the pub/sub connection until it is subscribed again."""
        return not self._lost

    def listen(
        self,
        account_sid: str,
        listener: Listener,
        missed: Missed | None = None,
        lost: Missed | None = None,
    ) -> Callable[[], None]:
        self.start()
        return self.local.listen(account_sid, listener, missed, lost)

    def start(self) -> None:
        """Start this process's one listener task (done by the first `listen`)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def ready(self) -> None:
        """Wait until the listener task is subscribed (tests, and a replica's start)."""
        self.start()
        await self._subscribed.wait()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.local.aclose()

    async def _listen(self) -> None:
        pattern = self.channel("*")
        while True:
            pubsub = self.shared.pubsub()
            connection = None
            try:
                await pubsub.psubscribe(pattern)
                self._reconnected = False
                # redis-py connects a broken pub/sub connection again by itself:
                # that is a failure too (what was published meanwhile is lost).
                connection = pubsub.connection  # set by psubscribe
                if connection is not None:
                    connection.register_connect_callback(self._on_reconnect)
                await self._answered(pubsub)  # Redis has subscribed it (commands run in order)
                self._subscribed.set()
                if self.failures:  # what other replicas published meanwhile is lost here
                    self._lost = False
                    self.local.missed()
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: subscribe again when it is back
                self.failures += 1
                self._subscribed.clear()
                if not self._lost:
                    self._lost = True
                    self.local.lost()
                await asyncio.sleep(self.shared.retry_interval)
            finally:
                if connection is not None:  # back to the pool: its connects are not ours
                    connection.deregister_connect_callback(self._on_reconnect)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _answered(self, pubsub: Any) -> None:
        """Ping the connection and wait for its answer (what comes before is handed on)."""
        await pubsub.ping()
        clock = asyncio.get_running_loop().time
        deadline = clock() + 2 * self.health_interval
        while clock() < deadline:
            if self._hand_on(await pubsub.get_message(timeout=self._wait)) == "pong":
                return
        raise ConnectionError("the pub/sub connection did not answer a ping")

    async def _read(self, pubsub: Any) -> None:
        """Hand on what the connection hears; ping it when quiet, and fail when a ping
        goes unanswered (a half-open connection would otherwise be silent for ever)."""
        clock = asyncio.get_running_loop().time
        heard, pinged = clock(), False
        while True:
            kind = self._hand_on(await pubsub.get_message(timeout=self._wait))
            if self._reconnected:
                raise ConnectionError("the pub/sub connection was lost")
            if kind is not None:
                heard, pinged = clock(), False
            elif clock() - heard >= 2 * self.health_interval:
                raise ConnectionError("the pub/sub connection did not answer a ping")
            elif not pinged and clock() - heard >= self.health_interval:
                await pubsub.ping()
                pinged = True

    def _on_reconnect(self, connection: Any) -> None:
        self._reconnected = True

    @property
    def _wait(self) -> float:
        return min(1.0, self.health_interval)

    def _hand_on(self, message: dict[str, Any] | None) -> str | None:
        """Hand on an event message; the message's type (None for no message)."""
        if message is None:
            return None
        kind = str(message.get("type"))
        if kind == "pmessage":
            self._heard(message.get("channel"), message.get("data"))
        return kind

    def _heard(self, channel: Any, data: Any) -> None:
        if not isinstance(data, bytes) or not isinstance(channel, bytes):
            return
        origin, _, payload = data.partition(_SEPARATOR)
        if origin == self._origin:
            return  # ours, handed on when published
        name = channel.decode(errors="replace")
        account_sid = name.rpartition(":")[2]
        if not self.local.listening(account_sid):
            return
        opened = self._event(name, origin, payload)
        if opened is None or opened[0].account_sid != account_sid:
            self.unreadable += 1
            # Which channel, never what the message held.
            logger.warning("an event message on %s could not be read; it is dropped", name)
            return
        event, sent = opened
        age = self._clock() - sent
        if not abs(age) <= MAX_AGE:
            self.refused += 1
            logger.warning(
                "an event message on %s was published %.0f s before it came (a replay, or "
                "clocks apart); it is dropped",
                name,
                age,
            )
            return
        if not self._first(event):
            self.refused += 1  # a repeat: this process handed that event on already
            return
        self.heard += 1
        self.local.deliver(event)

    def _first(self, event: StudioEvent) -> bool:
        """Whether this process has not handed `event` on yet (and now counts it as such)."""
        return self._handed_on.first(f"{event.account_sid}:{event.id}")

    def _wire(self, event: StudioEvent) -> StudioEvent:
        """The event as it may cross Redis: without personal data unless sealed."""
        if self.cipher is not None:
            return event
        execution, step = event.execution, event.step
        if execution is not None:
            execution = dataclasses.replace(execution, contact_channel_address=None, context=None)
        if step is not None:
            step = dataclasses.replace(step, context=None)
        return dataclasses.replace(event, execution=execution, step=step)

    def _seal(self, channel: str, payload: bytes) -> bytes:
        if self.cipher is None:
            return payload
        return self.cipher.seal(_bound(channel, self._origin), payload)

    def _event(
        self, channel: str, origin: bytes, payload: bytes
    ) -> tuple[StudioEvent, float] | None:
        """The event a message carries and when it was published; None when it does not
        open (another channel's, another sender's) or cannot be read."""
        if self.cipher is not None:
            opened = self.cipher.open(_bound(channel, origin), payload)
            if opened is None:
                return None
            payload = opened
        try:
            message = orjson.loads(payload)
            return event_from_json(message["event"]), float(message["sent"])
        except Exception:  # another version's message, or garbage: dropped, counted
            return None


def _bound(channel: str, origin: bytes) -> str:
    """What a sealed message is bound to: its channel and the process that sent it."""
    return f"{channel}\n{origin.decode(errors='replace')}"


def event_from_json(data: dict[str, Any]) -> StudioEvent:
    """A StudioEvent from its encoded form (`gateway.cache.encode`)."""
    time = parse_datetime(data["time"])
    if time is None:
        raise ValueError("an event without a time")
    execution = data.get("execution")
    step = data.get("step")
    return StudioEvent(
        id=str(data["id"]),
        type=str(data["type"]),
        time=time,
        account_sid=str(data["account_sid"]),
        flow_sid=str(data["flow_sid"]),
        execution_sid=str(data["execution_sid"]),
        execution=Execution.from_json(execution) if execution is not None else None,
        step=ExecutionStep.from_json(step) if step is not None else None,
    )
