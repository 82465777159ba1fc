"""The one exception tree of the Studio client.

    StudioError                any failure of a Studio call
     ├── Malformed             an answer that does not fit its record (reason MALFORMED)
     ├── InvalidArgument       an argument the client refuses; no request was sent
     │    └── InvalidSid       a malformed SID
     ├── CreateOutcomeUnknown  a create that may have run: Twilio did not say, and
     │                         looking did not settle it (names the execution to check)
     └── NotCreated            a create that failed without an answer, and that
                               looking showed was not carried out

An upstream failure is a plain `StudioError`: it carries the HTTP status and
Twilio's `code`, `message`, `more_info` and `details` when the upstream sent
them, and `reason` says which kind of failure it was. Messages never hold a
credential, a full URL or a request body.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why a call failed."""

    #: The upstream answered with an error status.
    RESPONSE = "response"
    #: No answer in time (connect, read, or the call's overall deadline).
    TIMEOUT = "timeout"
    #: The connection could not be made or broke.
    NETWORK = "network"
    #: The upstream answered with something that is not the JSON it promised.
    MALFORMED = "malformed"
    #: The client refused the call before sending it.
    REJECTED = "rejected"
    #: The gateway refused the call to protect an upstream in trouble.
    CIRCUIT_OPEN = "circuit_open"
    #: The gateway held the call back: it would exceed the account's rate limit.
    RATE_LIMITED = "rate_limited"


class StudioError(Exception):
    """A Studio call failed."""

    def __init__(
        self,
        message: str,
        *,
        reason: Reason = Reason.RESPONSE,
        status: int | None = None,
        code: int | None = None,
        more_info: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status
        self.code = code
        self.more_info = more_info
        self.details = details
        self.retry_after = retry_after
        #: "METHOD /v2/route/{Template}": which operation, never the raw URL.
        self.operation = operation
        #: A request that changes something may have been carried out, and no
        #: answer said whether it was (no answer in time, a connection broken
        #: after sending, a 5xx): sending it again might do it twice.
        self.outcome_unknown = False

    @property
    def not_found(self) -> bool:
        return self.status == 404

    def __repr__(self) -> str:
        parts = [f"reason={self.reason.value!r}"]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.operation:
            parts.append(f"operation={self.operation!r}")
        parts.append(f"message={self.message!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __str__(self) -> str:
        head = f"HTTP {self.status}" if self.status is not None else self.reason.value
        code = f" (Twilio code {self.code})" if self.code is not None else ""
        return f"{head}{code}: {self.message}"


class InvalidArgument(StudioError, ValueError):
    """An argument the client refuses before sending anything."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason=Reason.REJECTED)

    def __str__(self) -> str:
        return self.message


class InvalidSid(InvalidArgument):
    """A SID that is not two letters and 32 hex digits."""


class Malformed(StudioError):
    """An upstream answer that does not fit the record it should hold."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason=Reason.MALFORMED)


class CreateOutcomeUnknown(StudioError):
    """A create of an execution that may have been carried out: no answer said, and
    the executions list did not settle it. `execution_sid` is the execution that
    may be it, when there is exactly one; `cause` the failure without an answer."""

    def __init__(self, message: str, *, cause: StudioError, execution_sid: str | None) -> None:
        super().__init__(
            message, reason=cause.reason, status=cause.status, operation=cause.operation
        )
        self.cause = cause
        self.execution_sid = execution_sid
        self.outcome_unknown = True


class NotCreated(StudioError):
    """A create that failed without an answer (`cause`), and that the executions list
    shows Twilio had not carried out when the client looked."""

    def __init__(self, message: str, *, cause: StudioError) -> None:
        super().__init__(
            message,
            reason=cause.reason,
            status=cause.status,
            code=cause.code,
            retry_after=cause.retry_after,
            operation=cause.operation,
        )
        self.cause = cause
