"""Live mode: executions that advance step by step, told as Event Streams webhooks.

    live = LiveMode(emulator, LiveOptions(url="http://127.0.0.1:8000/webhooks/twilio/events"))
    sid = live.start_execution()      # active, no steps yet: `…execution.started` is queued
    await live.advance()              # each live execution gains one step, events delivered
    live.start(); ...; await live.stop()   # or a background run every `step_interval`

An execution the live mode starts runs its flow as a REST-created one would,
the contact answering each wait, but its steps appear one per `advance` (dated
when they appear), then it ends; each change is delivered as Twilio's Event
Streams would deliver it: signed with the account's Auth Token, one CloudEvent
per request or arrays of `batch`. On demand, events are delivered twice
(`duplicates`), out of order (`shuffle`), and requests are preceded by a
forged copy signed with a wrong key (`forged`), which a sink must refuse.
A delivery the sink does not take (no connection, no answer within Twilio's 5 s,
a 429 or a 5xx) is sent again in the background as Twilio does, with
exponential backoff and jitter for up to 4 hours (`retry_for`); `time_scale`
shrinks those waits for tests. Any other answer (a 400, a 403) is final.
Ending an execution over REST while it runs stops it: its end is delivered.
`adopt_active()` lets the executions already waiting for a contact go on the
same way, from the widget each waits at.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

from gateway.emulator import eventstreams
from gateway.emulator.context import execution_context
from gateway.emulator.definition import CompiledFlow
from gateway.emulator.emulator import Emulator
from gateway.emulator.eventstreams import CloudEvent
from gateway.emulator.handlers.executions import start_execution
from gateway.emulator.records import ExecutionRecord, Json, StepRecord
from gateway.emulator.runner import FlowRun, RunSettings

#: Twilio's wait before the first retry of a delivery, and the longest between two
#: (its exact schedule is not published: exponential, with jitter, for 4 hours).
FIRST_RETRY: Final = 5.0
MAX_RETRY: Final = 20 * 60.0
#: A webhook sink must answer within 5 s (FACTS.md section 1.3).
SINK_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """Where events go and how they are delivered."""

    #: The sink's URL (the gateway's webhook).
    url: str
    #: What signs deliveries; default: the account's Auth Token.
    auth_token: str | None = None
    #: Events per request: 1 sends one object per request, more sends arrays.
    batch: int = 1
    #: The chance that an event is delivered a second time.
    duplicates: float = 0.0
    #: Deliver each round's events in a random order.
    shuffle: bool = False
    #: The chance that a request is preceded by a forged copy (wrong key).
    forged: float = 0.0
    #: Seconds between rounds of the background run.
    step_interval: float = 0.05
    seed: int = 0
    #: Seconds (Twilio's) a failed delivery is retried for.
    retry_for: float = 4 * 3600.0
    #: Real seconds per second of Twilio's retry schedule (tests: 0.001 makes 4 h 14.4 s).
    time_scale: float = 1.0


@dataclass(slots=True, eq=False)
class _Live:
    execution: ExecutionRecord
    plan: list[StepRecord]
    last: datetime


class LiveMode:
    """Advances the executions it starts, one step per round, and delivers their events."""

    def __init__(
        self,
        emulator: Emulator,
        options: LiveOptions,
        *,
        account_sid: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.emulator = emulator
        self.options = options
        self.account = emulator.account(account_sid or emulator.account_sid)
        self._key = options.auth_token or self.account.auth_token
        self._rng = random.Random(f"live:{options.seed}")
        self._http = http
        self._live: dict[str, _Live] = {}
        self._queue: list[CloudEvent] = []
        self._contacts = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        #: Deliveries waiting to be sent again.
        self._retrying: set[asyncio.Task[None]] = set()
        #: What was sent: events (with duplicates), requests (every attempt), forged
        #: requests, each delivery's last answer by status (0: no answer), attempts
        #: after a delivery's first, and deliveries given up after `retry_for`.
        self.events_sent = 0
        self.requests = 0
        self.forged_sent = 0
        self.answers: Counter[int] = Counter()
        self.retries = 0
        self.given_up = 0
        #: Every event made, once each (before duplicates), by execution SID.
        self.emitted: dict[str, list[CloudEvent]] = {}

    def __repr__(self) -> str:
        return f"LiveMode(url={self.options.url!r}, live={len(self._live)})"

    @property
    def live(self) -> list[str]:
        """SIDs of the executions still advancing."""
        return list(self._live)

    def start_execution(
        self,
        flow_sid: str | None = None,
        *,
        to: str | None = None,
        from_: str = "+15005550006",
        parameters: dict[str, Any] | None = None,
    ) -> str:
        """Start an execution of `flow_sid` (default: a published flow); its SID."""
        flows = self.account.flows
        if flow_sid is None:
            flow_sid = self._rng.choice([s for s, f in flows.items() if f.latest_published()])
        flow = flows[flow_sid]
        to = to or f"+1555{next(self._contacts):07d}"
        now = self._now()
        execution, result = start_execution(
            self.account,
            flow,
            to,
            from_,
            parameters or {},
            now,
            RunSettings(resolve_waits=True),
        )
        flow.executions[execution.sid] = execution
        self._live[execution.sid] = _Live(execution, list(result.steps), now)
        self._emit(eventstreams.execution_event(eventstreams.EXECUTION_STARTED, execution, now))
        return execution.sid

    def adopt_active(self) -> list[str]:
        """Let the account's waiting executions go on (their contacts answer): their
        SIDs. Each goes on from the widget it waits at, one step per round, then ends."""
        adopted: list[str] = []
        for flow in self.account.flows.values():
            for execution in flow.executions.values():
                if execution.status != "active" or execution.sid in self._live:
                    continue
                revision = flow.find_revision(execution.flow_version)
                waiting_at = execution.steps[-1].transitioned_to if execution.steps else None
                plan: list[StepRecord] = []
                if revision is not None and waiting_at is not None:
                    context = execution_context(execution)
                    plan = (
                        self._flow_run(revision.compiled(), context)
                        .resume(waiting_at, context.get("widgets"))
                        .steps
                    )
                self._live[execution.sid] = _Live(execution, plan, self._now())
                adopted.append(execution.sid)
        return adopted

    def _flow_run(self, flow: CompiledFlow, context: Json) -> FlowRun:
        account = self.account
        return FlowRun(
            flow,
            base_context=context,
            entry_event="incomingRequest",
            started_at=self._now(),
            rng=account.rng,
            sid_factory=account.sid_factory,
            next_seq=account.next_seq,
            subflows=account.resolve_subflow,
            settings=RunSettings(resolve_waits=True),
        )

    async def advance(self, *, deliver: bool = True) -> None:
        """One round: each live execution shows its next step, or ends; then deliver
        (or, with `deliver=False`, keep its events for the next `flush`)."""
        for sid, live in list(self._live.items()):
            execution = live.execution
            gone = self.account.execution(execution.flow_sid, sid) is None
            if gone or execution.status == "ended" or not live.plan:
                del self._live[sid]
                if gone:
                    continue
                at = self._now(live)
                if execution.status != "ended":
                    execution.status = "ended"
                    execution.date_updated = at.replace(microsecond=0)
                event = eventstreams.execution_event(eventstreams.EXECUTION_ENDED, execution, at)
                self._emit(event)
                continue
            step = live.plan.pop(0)
            step.date_created = self._now(live)
            execution.steps.append(step)
            execution.date_updated = step.date_created.replace(microsecond=0)
            self._emit(eventstreams.step_event(execution, step))
        if deliver:
            await self.flush()

    async def flush(self) -> None:
        """Deliver what is queued, as the options say."""
        events, self._queue = self._queue, []
        for event in list(events):
            if self._rng.random() < self.options.duplicates:
                events.append(event)
        if self.options.shuffle:
            self._rng.shuffle(events)
        size = max(1, self.options.batch)
        chunks = [events[i : i + size] for i in range(0, len(events), size)]
        if self.options.shuffle:  # side by side: they may arrive in any order
            await asyncio.gather(*(self._send(chunk) for chunk in chunks))
        else:
            for chunk in chunks:
                await self._send(chunk)

    @property
    def retrying(self) -> int:
        """Deliveries the sink has not taken yet that will be sent again."""
        return len(self._retrying)

    async def deliver(self, events: list[CloudEvent], *, forged: bool = False) -> int:
        """Send `events` in one request (an object when one, else an array); the first
        answer's status (0: none). One the sink did not take is sent again later, in
        the background (see the module's docstring)."""
        as_array = len(events) > 1 or self.options.batch > 1
        body = eventstreams.body_of(events, as_array=as_array)
        key = "forged-" + self._key if forged else self._key
        url, signature = eventstreams.signed_request(self.options.url, body, key)
        headers = {
            "Content-Type": "application/json",
            "X-Twilio-Signature": signature,
            "User-Agent": "Twilio-Event-Streams/1.0 (studio-gateway emulator)",
        }
        if forged:
            self.forged_sent += 1
        else:
            self.events_sent += len(events)
        status = await self._attempt(url, body, headers)
        if _retried(status):
            task = asyncio.get_running_loop().create_task(self._retry(url, body, headers))
            self._retrying.add(task)
            task.add_done_callback(self._retrying.discard)
        else:
            self.answers[status] += 1
        return status

    async def _attempt(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.requests += 1
        try:
            response = await self._client().post(url, content=body, headers=headers)
        except httpx.TransportError:  # refused, reset, or no answer within 5 s
            return 0
        return response.status_code

    async def _retry(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Send again until the sink takes it or `retry_for` (Twilio's seconds, counted
        in waits: an attempt takes milliseconds of its hours) has passed."""
        waited = 0.0
        wait = FIRST_RETRY
        status = 0
        while True:
            # Equal jitter: the wait still grows, and retries of many deliveries spread.
            pause = wait / 2 + self._rng.uniform(0, wait / 2)
            waited += pause
            if waited > self.options.retry_for:
                self.given_up += 1
                break
            await asyncio.sleep(pause * self.options.time_scale)
            self.retries += 1
            status = await self._attempt(url, body, headers)
            if not _retried(status):
                break
            wait = min(2 * wait, MAX_RETRY)
        self.answers[status] += 1

    def start(self) -> None:
        """Advance every `step_interval` in the background until `stop`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def keep_starting(self, every: float, flow_sid: str | None = None) -> None:
        """Start an execution (of `flow_sid`, else of a published flow) every `every`
        seconds while advancing in the background."""
        self.start()
        while True:
            await asyncio.sleep(every)
            self.start_execution(flow_sid)

    async def stop(self) -> None:
        """Stop advancing, and retrying what the sink did not take."""
        for task in [self._task, *self._retrying]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        while True:
            await self.advance()
            await asyncio.sleep(self.options.step_interval)

    async def _send(self, events: list[CloudEvent]) -> None:
        if self._rng.random() < self.options.forged:
            await self.deliver(events, forged=True)
        await self.deliver(events)

    def _emit(self, event: CloudEvent) -> None:
        self._queue.append(event)
        execution_sid = event["data"]["execution_sid"]
        self.emitted.setdefault(execution_sid, []).append(event)

    def _now(self, live: _Live | None = None) -> datetime:
        # Milliseconds matter: they order events. Each execution's own times increase.
        now = datetime.now(UTC)
        if live is not None:
            now = max(now, live.last + timedelta(milliseconds=1))
            live.last = now
        return now

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=SINK_TIMEOUT)
        return self._http


def _retried(status: int) -> bool:
    """Whether Twilio sends a delivery with this answer again (0: none came)."""
    return status == 0 or status == 429 or status >= 500
