"""The HTTP layer under the client: pooling, bounds, deadlines, retries.

One `Transport` is shared by the whole process: one pool of keep-alive
connections (`gateway.studio.wire`), one bound on upstream calls in flight, one circuit
breaker, one retry budget, one table of shared reads, one record of the
credentials Twilio accepted. Credentials are given per call, so one transport
serves every account (pass-through mode).

A call goes through, in order: the circuit (open: fail at once), single
flight (an identical GET already in flight: wait for its answer), then
attempts, each bounded by the call's deadline and the caller's `call_scope`,
with retries that the policy allows, the deadline leaves time for, and the
retry budget can pay for. Each attempt to create an execution first takes a
place in the account's `create_limiter` (a sliding window), and gives it back
when Twilio answers; a create Twilio answered 429 (it carried nothing out)
waits as Twilio asks and takes another place, for up to `create_wait` in all.
Every attempt holds one of the process's slots and, when set, one of the
account's `account_slots`. A POST that may have been carried out without an
answer saying so fails with `outcome_unknown` set, for the caller to find out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from gateway.studio.accepted import AcceptedCredentials
from gateway.studio.budget import RetryBudget
from gateway.studio.circuit import CircuitBreaker
from gateway.studio.config import ClientConfig
from gateway.studio.errors import Reason, StudioError
from gateway.studio.flight import SingleFlight
from gateway.studio.limits import LocalSemaphore, RateLimiter, Semaphore, SlidingWindow, Window
from gateway.studio.scope import CallScope, current_scope
from gateway.studio.wire import (
    AiohttpWire,
    Answer,
    HttpxWire,
    TooLarge,
    Wire,
    WireConfig,
    WireError,
)

_IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})

Params = Mapping[str, str | int | None]
Form = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Attempt:
    """What observers hear about each attempt of an upstream call."""

    operation: str  # "GET /v2/Flows/{Sid}": the route template, never a raw URL
    attempt: int  # 1 for the first try
    status: int | None  # HTTP status, None when no answer came
    outcome: str  # "ok", or a Reason value
    duration: float  # seconds
    will_retry: bool


Observer = Callable[[Attempt], None]


@dataclass(frozen=True, slots=True)
class _Call:
    """What one call is: the request, and what the account-wide limits key it by."""

    method: str
    operation: str
    path: str
    auth: tuple[str, str]
    account: str
    creates: bool


class Transport:
    """Sends Studio requests with bounded concurrency, deadlines and safe retries."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.config = config or ClientConfig()
        timeouts = self.config.timeouts
        wire = WireConfig(
            base_url=self.config.base_url,
            user_agent=self.config.user_agent,
            connect=timeouts.connect,
            read=timeouts.read,
            max_connections=self.config.max_in_flight,
            keepalive=self.config.keepalive_seconds,
            max_body=self.config.max_response_bytes,
        )
        self._wire: Wire = HttpxWire(http, wire) if http is not None else AiohttpWire(wire)
        self._slots = asyncio.Semaphore(self.config.max_in_flight)
        self.observers: list[Observer] = list(observers)
        #: Attempts on the wire right now (a gauge for metrics).
        self.in_flight = 0
        #: Process-wide guards, each with a `stats` snapshot for /readyz and metrics.
        self.circuit = CircuitBreaker(self.config.circuit)
        self.retry_budget = RetryBudget(self.config.retry_budget)
        self.single_flight = SingleFlight()
        #: The credentials Twilio last answered with a success (digests only).
        self.accepted = AcceptedCredentials()
        #: Account-wide limits; per process by default, shared when a store replaces them.
        rate = self.config.create_rate
        self.create_limiter: RateLimiter | None = None
        if rate:
            # A place outlives any attempt that holds it: attempts end by the deadline.
            lease = timeouts.deadline + 1.0
            self.create_limiter = SlidingWindow(Window.per_second(rate), lease=lease)
        cap = self.config.account_max_in_flight
        self.account_slots: Semaphore | None = LocalSemaphore(cap) if cap else None

    async def aclose(self) -> None:
        await self._wire.aclose()

    async def request(
        self,
        method: str,
        route: str,
        path: str,
        *,
        auth: tuple[str, str],
        params: Params | None = None,
        form: Form | None = None,
        account: str | None = None,
        creates: bool = False,
        decode: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Send one call; return its decoded JSON body (None for 204).

        `route` is the spec's path template, used for errors and observers.
        Inside a `call_scope`, the call also ends by the scope's deadline.
        `account` (default: the username) keys the account-wide limits;
        `creates` says the call creates an execution, which the account's
        rate limit counts. `decode` turns the body into what is returned
        (records); a shared read decodes once, and its waiters share the result.
        """
        operation = f"{method} {route}"
        if self.circuit.rejects():
            raise self.circuit.refusal(operation)  # fail fast: no task, no socket
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        call = _Call(method, operation, path, auth, account or auth[0], creates)
        if method == "GET" and self.config.single_flight:
            # The password is part of the key: a wrong token must never share
            # the answer a right one got.
            key = (auth, path, tuple(sorted(query.items())), decode)
            return await self.single_flight.run(
                key,
                lambda: self._decoded(call, query, decode),
                on_timeout=lambda: _scope_ended(operation),
            )
        return await self._decoded(call, query, decode, form)

    async def _decoded(
        self,
        call: _Call,
        query: dict[str, str],
        decode: Callable[[Any], Any] | None,
        form: Form | None = None,
    ) -> Any:
        body = await self._call(call, query, form)
        return body if decode is None else decode(body)

    async def _call(self, call: _Call, query: dict[str, str], form: Form | None) -> Any:
        method, operation, auth = call.method, call.operation, call.auth
        loop = asyncio.get_running_loop()
        scope = current_scope()
        began = loop.time()
        own_deadline = began + self.config.timeouts.deadline
        authorization = _basic(auth)
        target = f"{call.path}?{urlencode(query)}" if query else call.path
        body = urlencode(form).encode() if form else None
        self.retry_budget.deposit()
        attempt = 0
        broke_before = False
        error: StudioError | None = None
        while True:
            deadline = _earliest(own_deadline, scope)
            if deadline - loop.time() <= 0:
                raise error or _timed_out(operation, own_deadline <= deadline)
            ticket = None
            if call.creates and self.create_limiter is not None:
                waited = loop.time() - began
                max_wait = min(self.config.create_wait - waited, deadline - loop.time())
                ticket = await self._take_create_turn(call, scope, own_deadline, max_wait)
            try:
                trial = self.circuit.admit(operation)
            except StudioError as refusal:
                await self._release_turn(call, ticket)  # nothing was sent
                raise error or refusal from None  # opened while this call was retrying
            attempt += 1
            started = time.perf_counter()
            status: int | None = None
            not_sent = broken = on_wire = False
            try:
                async with _bounded(scope, own_deadline):
                    async with self._slots, self._account_slot(call.account):
                        on_wire = True
                        answer = await self._send(call, authorization, target, body)
                status = answer.status
                result = _decode(answer, operation)
            except StudioError as exc:
                error = exc
                error.operation = error.operation or operation
            except TimeoutError:
                # Only the call's own deadline says something about the upstream;
                # a request's deadline or cancellation may fall at any moment.
                own = own_deadline <= _earliest(own_deadline, scope)
                error = _timed_out(operation, own)
                error.outcome_unknown = on_wire and method not in _IDEMPOTENT
                if not own:
                    self.circuit.abandon(trial=trial)
                    self._notify(operation, attempt, status, error.reason.value, started, False)
                    raise error from None
            except WireError as exc:
                error = _network_error(exc, operation)
                not_sent, broken = not exc.sent, exc.sent
            except TooLarge as exc:
                status = exc.status
                error = _too_large(exc.status, operation)
            except BaseException:
                self.circuit.abandon(trial=trial)
                raise
            else:
                self.circuit.record(False, trial=trial)
                self.accepted.answered(auth, status)
                self._notify(operation, attempt, status, "ok", started, False)
                return result
            finally:
                if status is not None or not on_wire or not_sent:
                    # Answered (Twilio counted it), or never sent. Without an
                    # answer the place is kept for its lease: Twilio may count it late.
                    await self._release_turn(call, ticket)
            self.circuit.record(_upstream_failed(error), trial=trial)
            self.accepted.answered(auth, error.status)
            if method not in _IDEMPOTENT and _may_be_carried_out(error, broken):
                error.outcome_unknown = True

            if method == "DELETE" and error.status == 404 and broke_before:
                # An earlier attempt deleted it; only its answer was lost.
                self._notify(operation, attempt, status, "ok", started, False)
                return None
            delay = None
            if call.creates and error.status == 429:
                # Twilio carried nothing out (20429): wait as it asks, then take
                # another place in the window. Paced by the window, such retries
                # cannot multiply the load, so they are not the budget's to refuse.
                waited = loop.time() - began
                delay = self._backoff(error, attempt, deadline - loop.time(), capped=False)
                if delay is not None and waited + delay > self.config.create_wait:
                    delay = None
            elif _retryable(method, error, not_sent, broken, self.config.retry.retry_statuses):
                delay = self._backoff(error, attempt, deadline - loop.time())
                if delay is not None and not self.retry_budget.spend():
                    delay = None  # retries are already adding all the load they may
            self._notify(operation, attempt, status, error.reason.value, started, delay is not None)
            if delay is None:
                raise error
            broke_before = broke_before or broken
            try:
                async with _bounded(scope, own_deadline):
                    await asyncio.sleep(delay)
            except TimeoutError:
                raise error from None

    async def _take_create_turn(
        self, call: _Call, scope: CallScope | None, own_deadline: float, max_wait: float
    ) -> str:
        """Wait for a place in the account's create window, or fail rate limited unsent."""
        assert self.create_limiter is not None
        try:
            async with _bounded(scope, own_deadline):
                admission = await self.create_limiter.acquire(call.account, max(0.0, max_wait))
        except TimeoutError:
            raise _scope_ended(call.operation) from None
        if not admission.granted:
            raise StudioError(
                "too many executions are being created for this account; "
                f"try again in {admission.wait:.1f} s",
                reason=Reason.RATE_LIMITED,
                retry_after=round(admission.wait, 3),
                operation=call.operation,
            )
        return admission.ticket

    async def _release_turn(self, call: _Call, ticket: str | None) -> None:
        if ticket is not None and self.create_limiter is not None:
            await self.create_limiter.release(call.account, ticket)

    async def _send(
        self, call: _Call, authorization: str, target: str, body: bytes | None
    ) -> Answer:
        self.in_flight += 1
        try:
            return await self._wire.send(call.method, target, authorization, body)
        finally:
            self.in_flight -= 1

    def _account_slot(self, account: str) -> AbstractAsyncContextManager[None]:
        if self.account_slots is None:
            return contextlib.nullcontext()
        return self.account_slots.hold(account)

    def _backoff(
        self, error: StudioError, attempt: int, remaining: float, *, capped: bool = True
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the call must fail now
        (`capped`: after the policy's last attempt)."""
        retry = self.config.retry
        if capped and attempt >= retry.max_attempts:
            return None
        if error.retry_after is not None:
            delay = error.retry_after
        else:
            delay = random.uniform(0, min(retry.max_backoff, retry.backoff * 2 ** (attempt - 1)))
        if delay >= remaining:
            return None  # the wait alone would outlast the deadline: fail fast
        return delay

    def _notify(
        self,
        operation: str,
        attempt: int,
        status: int | None,
        outcome: str,
        started: float,
        will_retry: bool,
    ) -> None:
        if not self.observers:
            return
        event = Attempt(
            operation, attempt, status, outcome, time.perf_counter() - started, will_retry
        )
        for observer in self.observers:
            observer(event)


def _earliest(deadline: float, scope: CallScope | None) -> float:
    other = scope.deadline if scope is not None else None
    return deadline if other is None else min(deadline, other)


def _bounded(scope: CallScope | None, deadline: float) -> AbstractAsyncContextManager[Any]:
    return scope.bound(deadline) if scope is not None else asyncio.timeout_at(deadline)


def _timed_out(operation: str, own: bool) -> StudioError:
    if own:
        message = "Twilio did not answer within the call's deadline"
    else:
        message = "the request's time ran out before Twilio answered"
    return StudioError(message, reason=Reason.TIMEOUT, operation=operation)


def _scope_ended(operation: str) -> StudioError:
    return _timed_out(operation, own=False)


def _upstream_failed(error: StudioError) -> bool:
    """Whether an attempt's error says the upstream is in trouble (for the breaker).

    A 4xx, 429 included, is a healthy upstream answering as designed.
    """
    if error.reason is Reason.RESPONSE:
        return error.status is None or error.status >= 500
    return error.reason in (Reason.TIMEOUT, Reason.NETWORK, Reason.MALFORMED)


def _may_be_carried_out(error: StudioError, broken: bool) -> bool:
    """Whether a failed request that changes something may have been carried out
    with no answer saying so: a connection broken after it was sent, a 5xx, a
    2xx too garbled to read. (A timeout is judged where it happens.)"""
    status = error.status
    return broken or (status is not None and (status >= 500 or 200 <= status < 300))


def _retryable(
    method: str, error: StudioError, not_sent: bool, broken: bool, statuses: frozenset[int]
) -> bool:
    if error.status == 429 or not_sent:
        return True  # Twilio processed nothing (20429), or the request never left
    if method not in _IDEMPOTENT:
        return False  # a POST may have been processed: never send it twice
    return broken or (error.reason is Reason.RESPONSE and error.status in statuses)


def _decode(answer: Answer, operation: str) -> Any:
    status, body = answer.status, answer.body
    if status == 204 or (200 <= status < 300 and not body):
        return None
    data = _parse(body) if body else None
    if 200 <= status < 300:
        if data is _UNREADABLE or not isinstance(data, dict):
            raise StudioError(
                f"Twilio answered HTTP {status} with a body that is not a JSON object",
                reason=Reason.MALFORMED,
                status=status,
                operation=operation,
            )
        return data
    error = _error_from(status, data, operation)
    error.retry_after = _retry_after(answer.headers.get("Retry-After"))
    raise error


_UNREADABLE = object()
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _parse(body: bytes) -> Any:
    """JSON by orjson, except a body with 19 digits in a row: orjson reads an
    integer beyond 64 bits (a context may hold one) as a rounded float, the
    standard library exactly. What orjson refuses (NaN) the standard library tries."""
    if _LONG_NUMBER.search(body) is None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _UNREADABLE


def _error_from(status: int, data: Any, operation: str) -> StudioError:
    if isinstance(data, dict) and ("code" in data or "message" in data):
        code = data.get("code")
        details = data.get("details")
        return StudioError(
            str(data.get("message") or f"Twilio answered HTTP {status}"),
            status=status,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            more_info=data.get("more_info") if isinstance(data.get("more_info"), str) else None,
            details=details if isinstance(details, dict) else None,
            operation=operation,
        )
    # An HTML 502 from a proxy, a truncated body: still one clean error.
    return StudioError(
        f"Twilio answered HTTP {status} without a Twilio error body",
        status=status,
        operation=operation,
    )


def _basic(auth: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")


def _network_error(exc: WireError, operation: str) -> StudioError:
    return StudioError(
        f"the connection to Twilio {'timed out' if exc.timed_out else 'failed'} ({exc.kind})",
        reason=Reason.TIMEOUT if exc.timed_out else Reason.NETWORK,
        operation=operation,
    )


def _too_large(status: int, operation: str) -> StudioError:
    return StudioError(
        "Twilio's answer is larger than the gateway accepts",
        reason=Reason.MALFORMED,
        status=status,
        operation=operation,
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
