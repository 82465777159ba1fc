"""Per-request bookkeeping that follows the request's tasks (a context variable)."""

from __future__ import annotations

import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

_current: ContextVar[RequestInfo | None] = ContextVar("studio_gateway_request", default=None)

#: A request id a client may send: short and printable, or we make our own.
MAX_REQUEST_ID = 128


@dataclass
class RequestInfo:
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    upstream_calls: int = 0

    @classmethod
    def begin(cls, sent_id: str | None) -> RequestInfo:
        """Start bookkeeping for a request; use the client's X-Request-ID when it is sane."""
        if sent_id and len(sent_id) <= MAX_REQUEST_ID and sent_id.isprintable():
            request_id = sent_id
        else:
            request_id = uuid.uuid4().hex
        info = cls(request_id)
        _current.set(info)
        return info


def current_request() -> RequestInfo | None:
    return _current.get()
