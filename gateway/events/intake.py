"""`POST /webhooks/twilio/events`: Event Streams deliveries in, StudioEvents out.

A delivery is checked before anything else: its size, then its
`X-Twilio-Signature` (a missing or wrong one gets 403 and changes nothing),
then its JSON (an unreadable body gets 400, which Twilio does not retry). The
token that verified the signature names the one account the delivery speaks
for: an event naming any other account is dropped and counted
(`foreign_account`), never published, whatever its token could otherwise
reach (in pass-through mode, another account's subscribers). It
is answered at once, well within Twilio's 5 s, and processed after the answer
has gone: its Studio events in the order of their timestamps (delivery is
unordered), each acted on once (`SeenEvents`), each first evicting what the
cache holds for its execution on every replica (data read while it ran is
stale now; once it has ended, the next read keeps the final data as
immutable), then published on the broker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.cache import LayeredCache
from gateway.events.broker import Broker
from gateway.events.cloudevents import MalformedEvent, parse_delivery
from gateway.events.dedup import SeenEvents
from gateway.events.model import StudioEvent
from gateway.events.signature import signed_by
from gateway.keeping import execution_tag
from gateway.shared import SharedRedis

logger = logging.getLogger("gateway.events")

SIGNATURE_HEADER = "x-twilio-signature"


class EventObserver(Protocol):
    """Told of each event (its type, or `other`, or `delivery`) and what became of it."""

    def observe_event(self, kind: str, outcome: str) -> None: ...


class EventIntake:
    """Checks, answers and then processes Event Streams deliveries."""

    def __init__(
        self,
        broker: Broker,
        *,
        signers: Sequence[tuple[str, str]],
        seen: SeenEvents | None = None,
        cache: LayeredCache | None = None,
        public_url: str | None = None,
        max_body_bytes: int = 1024 * 1024,
        observer: EventObserver | None = None,
    ) -> None:
        self.broker = broker
        #: (account SID, Auth Token): whose deliveries are received, and what signs them.
        self._signers = tuple(signers)
        self.seen = seen or SeenEvents()
        self.cache = cache
        self.public_url = public_url.split("?", 1)[0] if public_url else None
        self.max_body_bytes = max_body_bytes
        self.observer = observer
        #: Events published since start (what the tests and the bench count).
        self.published = 0

    def __repr__(self) -> str:
        return f"EventIntake(public_url={self.public_url!r}, published={self.published})"

    async def endpoint(self, request: Request) -> Response:
        body = await self._body(request)
        if body is None:
            self._observe("delivery", "too_large")
            return _error(413, f"a delivery may hold at most {self.max_body_bytes} bytes")
        accounts = signed_by(
            self._signers, self.signed_url(request), body, request.headers.get(SIGNATURE_HEADER)
        )
        if not accounts:
            self._observe("delivery", "forbidden")
            logger.warning("an Event Streams delivery without a valid signature was refused")
            return _error(403, "missing or invalid X-Twilio-Signature")
        try:
            delivery = parse_delivery(body)
        except MalformedEvent as error:
            self._observe("delivery", "malformed")
            return _error(400, error.message)
        for reason in delivery.malformed:
            self._observe("event", "malformed")
            logger.warning("an Event Streams event was skipped: %s", reason)
        for _ in range(delivery.ignored.total()):
            self._observe("other", "ignored")
        self._observe("delivery", "accepted")
        events = sorted(self._of_signer(delivery.events, accounts), key=lambda event: event.time)
        refused = len(delivery.events) - len(events)
        return JSONResponse(
            {"accepted": len(events), "skipped": len(delivery.malformed), "refused": refused},
            status_code=202,
            background=BackgroundTask(self.process, events) if events else None,
        )

    def _of_signer(self, events: list[StudioEvent], accounts: frozenset[str]) -> list[StudioEvent]:
        """The events of the accounts whose token signed the delivery; the others are
        counted and dropped (answered 202 all the same: Twilio's retries would carry
        the same events again)."""
        kept = [event for event in events if event.account_sid in accounts]
        if len(kept) < len(events):
            named = sorted({e.account_sid for e in events if e.account_sid not in accounts})
            for event in events:
                if event.account_sid not in accounts:
                    self._observe(event.type, "foreign_account")
            # Account SIDs only: never a token, never what the events held.
            logger.warning(
                "%d Event Streams event(s) naming %s in a delivery signed for %s were dropped",
                len(events) - len(kept),
                ", ".join(named),
                ", ".join(sorted(accounts)),
            )
        return kept

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the configured public URL with the query received, or
        the URL as received."""
        if self.public_url is None:
            return str(request.url)
        query = request.scope.get("query_string", b"").decode("latin-1")
        return self.public_url + ("?" + query if query else "")

    async def process(self, events: list[StudioEvent]) -> None:
        """Act on each new event, oldest first: evict its execution's entries, publish it."""
        oldest = datetime.now(UTC) - timedelta(seconds=self.seen.ttl)
        for event in events:
            if event.time < oldest:
                # Past Twilio's 4 h of retries and past what de-duplication remembers:
                # a replay of a captured delivery, never news.
                self._observe(event.type, "stale")
                continue
            try:
                if not await self.seen.first(event.account_sid, event.id):
                    self._observe(event.type, "duplicate")
                    continue
                if self.cache is not None:
                    tag = execution_tag(event.account_sid, event.flow_sid, event.execution_sid)
                    await self.cache.invalidate([tag])
                await self.broker.publish(event)
            except Exception:  # one event's failure must not lose the others
                self._observe(event.type, "failed")
                logger.exception("an Event Streams event could not be processed (%r)", event)
                continue
            self.published += 1
            self._observe(event.type, "published")

    async def _body(self, request: Request) -> bytes | None:
        """The body, or None when it is larger than allowed (read no further than that)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body_bytes:
                    return None
                chunks.append(chunk)
        except ClientDisconnect:
            return b""
        return b"".join(chunks)

    def _observe(self, kind: str, outcome: str) -> None:
        if self.observer is not None:
            self.observer.observe_event(kind, outcome)


class Host(Protocol):
    """What the intake needs of the gateway (gateway.app.Gateway has it)."""

    broker: Broker
    cache: LayeredCache | None
    shared: SharedRedis | None

    @property
    def metrics(self) -> EventObserver: ...


class EventSettings(Protocol):
    events_path: str
    events_public_url: str | None
    events_max_body_bytes: int

    def events_signers(self) -> list[tuple[str, str]]: ...


def events_route(
    settings: EventSettings, host: Callable[[Request], Host | None] | None = None
) -> Route:
    """The webhook's route; its intake is made on the first delivery from the running
    gateway: `host(request)`, by default the lifespan's `request.state.gateway`
    (None while it starts: 503, which Twilio retries)."""
    made: list[tuple[Host, EventIntake]] = []
    find = host or _lifespan_gateway

    async def endpoint(request: Request) -> Response:
        gateway = find(request)
        if gateway is None:
            return _error(503, "starting")
        if made and made[0][0] is gateway:
            intake = made[0][1]
        else:
            intake = EventIntake(
                gateway.broker,
                signers=settings.events_signers(),
                seen=SeenEvents(gateway.shared),
                cache=gateway.cache,
                public_url=settings.events_public_url,
                max_body_bytes=settings.events_max_body_bytes,
                observer=gateway.metrics,
            )
            made[:] = [(gateway, intake)]
        return await intake.endpoint(request)

    return Route(settings.events_path, endpoint, methods=["POST"])


def _lifespan_gateway(request: Request) -> Host | None:
    gateway: Host | None = getattr(request.state, "gateway", None)
    return gateway


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
