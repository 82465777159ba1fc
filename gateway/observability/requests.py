"""Per-request bookkeeping that follows the request's tasks (a context variable)."""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Final

_current: ContextVar[RequestInfo | None] = ContextVar("studio_gateway_request", default=None)

#: A request id a client may send: short and printable, or we make our own.
MAX_REQUEST_ID = 128
#: A GraphQL name, short: the only operation name ever logged or labelled.
_OPERATION_NAME: Final = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")


def operation_name(name: str | None) -> str | None:
    """A client's operation name when it is a plain GraphQL name, else None.

    The client chooses `operationName`, and it need not name an operation in the
    document: anything else (a phone number, say) is never written anywhere.
    """
    return name if name and _OPERATION_NAME.fullmatch(name) else None


@dataclass
class RequestInfo:
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    upstream_calls: int = 0
    #: The request's GraphQL operations by name (None: unnamed, or not a plain name).
    operations: list[str | None] = field(default_factory=list)

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
