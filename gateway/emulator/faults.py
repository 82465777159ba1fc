"""Injected faults: what an unreliable upstream or the network between does.

Scripted faults (`enqueue`) hit the next matching requests, in order, before
the random rates are consulted. Random faults are never processed; a scripted
fault is processed first only when asked (`processed=True`), so a test can show
that a client does not retry a POST the server may already have carried out.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Final

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.emulator.errors import TwilioError

FAULT_KINDS: Final = frozenset(
    {"429", "500", "502", "503", "504", "malformed", "html", "drop", "hang"}
)

_HTML_PAGE: Final = (
    b"<!DOCTYPE html><html><head><title>Twilio - Service Temporarily Unavailable</title>"
    b"</head><body><h1>We'll be right back</h1><p>Twilio is undergoing maintenance.</p>"
    b"</body></html>"
)
_BAD_GATEWAY_PAGE: Final = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center></body></html>"
)
# What a truncated or dropped body is cut from when there is no real response.
_STAND_IN_BODY: Final = (
    b'{"meta": {"page": 0, "page_size": 50, "first_page_url": '
    b'"https://studio.twilio.com/v2/Flows?PageSize=50&Page=0", "key": "flows"}, "flows": []}'
)


class DroppedConnection(Exception):
    """Raised mid-response by the "drop" fault, so the server breaks the connection."""


@dataclass(slots=True)
class ScriptedFault:
    kind: str
    remaining: int
    method: str | None
    route: str | None
    retry_after: float | None
    processed: bool

    def matches(self, method: str, route: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.route is None or self.route == route
        )


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The fault chosen for one request."""

    kind: str
    processed: bool
    retry_after: float | None


class Faults:
    """Fault knobs, read on every request.

    Attributes:
        rate_429, rate_500, rate_503, rate_malformed, rate_drop: the chance, 0..1,
            that a request gets that fault (checked in this order).
        retry_after: the Retry-After seconds sent with a 429 that names none itself
            (None: no header).
        hang_seconds: how long a "hang" waits before answering.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._scripted: list[ScriptedFault] = []
        self.rate_429 = 0.0
        self.retry_after: float | None = None
        self.rate_500 = 0.0
        self.rate_503 = 0.0
        self.rate_malformed = 0.0
        self.rate_drop = 0.0
        self.hang_seconds = 3600.0

    def enqueue(
        self,
        kind: str,
        *,
        count: int = 1,
        method: str | None = None,
        route: str | None = None,
        retry_after: float | None = None,
        processed: bool = False,
    ) -> None:
        """Give the next `count` requests matching `method` and `route` the fault `kind`.

        `route` is a route template such as "/v2/Flows/{Sid}"; None matches any.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be 1 or more")
        with self._lock:
            self._scripted.append(
                ScriptedFault(
                    kind=kind,
                    remaining=count,
                    method=method.upper() if method else None,
                    route=route,
                    retry_after=retry_after,
                    processed=processed,
                )
            )

    def clear(self) -> None:
        """Drop every scripted fault and set every random rate back to zero."""
        with self._lock:
            self._scripted.clear()
        self.rate_429 = self.rate_500 = self.rate_503 = 0.0
        self.rate_malformed = self.rate_drop = 0.0
        self.retry_after = None

    @property
    def pending(self) -> int:
        """How many scripted faults are still to be served."""
        with self._lock:
            return sum(fault.remaining for fault in self._scripted)

    def draw(self, method: str, route: str) -> FaultPlan | None:
        """The fault for this request, if any; consumes a scripted one."""
        with self._lock:
            for fault in self._scripted:
                if fault.matches(method, route):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._scripted.remove(fault)
                    retry_after = fault.retry_after
                    if retry_after is None and fault.kind == "429":
                        retry_after = self.retry_after
                    return FaultPlan(fault.kind, fault.processed, retry_after)
        roll = self._rng.random()
        for kind, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("503", self.rate_503),
            ("malformed", self.rate_malformed),
            ("drop", self.rate_drop),
        ):
            if roll < rate:
                return FaultPlan(kind, False, self.retry_after if kind == "429" else None)
            roll -= rate
        return None


def fault_response(plan: FaultPlan, real: Response | None) -> Response:
    """The response a fault sends instead of `real` (None when nothing was processed)."""
    kind = plan.kind
    if kind == "429":
        headers = {}
        if plan.retry_after is not None:
            headers["Retry-After"] = _seconds(plan.retry_after)
        return TwilioError(429, 20429, "Too Many Requests", headers=headers).response()
    if kind == "502":
        return Response(_BAD_GATEWAY_PAGE, status_code=502, media_type="text/html")
    if kind in ("500", "503", "504"):
        reasons = {"500": "Internal Server Error", "503": "Service Unavailable"}
        status = int(kind)
        return TwilioError(status, 20000 + status, reasons.get(kind, "Gateway Timeout")).response()
    if kind == "html":
        return Response(_HTML_PAGE, status_code=200, media_type="text/html")
    has_body = real is not None and bool(real.body)
    body = bytes(real.body) if real is not None and has_body else _STAND_IN_BODY
    if kind == "malformed":
        return Response(body[: len(body) // 2], status_code=200, media_type="application/json")
    if kind == "drop":
        status = real.status_code if real is not None and has_body else 200
        return DroppedResponse(body, status_code=status)
    raise ValueError(f"fault kind {kind!r} has no response of its own")


def _seconds(value: float) -> str:
    """Whole seconds as an integer, as HTTP writes them; fractions kept for fast tests."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


class DroppedResponse(Response):
    """Promises a whole body, sends half of it, then breaks the connection."""

    def __init__(self, body: bytes, status_code: int) -> None:
        super().__init__(body, status_code=status_code, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        raise DroppedConnection("the emulator dropped the connection mid-body, as asked")
