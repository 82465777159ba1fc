"""The errors a GraphQL client sees: a message and a stable `extensions.code`.

Upstream failures (`StudioError`) map onto a handful of codes; Twilio's own
code and HTTP status ride along where the upstream gave them. Anything else is
masked by the schema. No message carries a credential, an upstream URL or a
stack trace.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from graphql import GraphQLError, Node

from gateway.security.codes import Code
from gateway.studio import CreateOutcomeUnknown, InvalidArgument, NotCreated, Reason, StudioError

__all__ = ["Code", "GatewayError", "bad_input", "from_studio", "load"]

V = TypeVar("V")


class GatewayError(Exception):
    """An error meant for the GraphQL client, with its `extensions`."""

    def __init__(self, message: str, code: Code, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extensions: dict[str, Any] = {
            "code": code.value,
            **{k: v for k, v in extensions.items() if v is not None},
        }

    def __repr__(self) -> str:
        return f"GatewayError({self.code.value}, {self.message!r})"

    def as_graphql_error(self, node: Node | None = None) -> GraphQLError:
        """This error as one that refuses an operation before it runs (at `node`, if given)."""
        return GraphQLError(self.message, nodes=node, extensions=self.extensions)


def bad_input(message: str, **extensions: Any) -> GatewayError:
    return GatewayError(message, Code.BAD_USER_INPUT, **extensions)


async def load(awaitable: Awaitable[V], what: str) -> V:
    """Await a loader; an upstream failure becomes the client-facing error for `what`."""
    try:
        return await awaitable
    except StudioError as error:
        raise from_studio(error, what) from None


def from_studio(error: StudioError, what: str) -> GatewayError:
    """The client-facing form of an upstream failure while reading `what`."""
    if isinstance(error, InvalidArgument):
        return bad_input(error.message)
    if isinstance(error, CreateOutcomeUnknown):
        # Never a plain timeout: that would invite the client to create it again.
        return GatewayError(
            error.message,
            Code.CREATE_OUTCOME_UNKNOWN,
            executionSid=error.execution_sid,
            twilioStatus=error.status,
        )
    if isinstance(error, NotCreated):
        failed = from_studio(error.cause, what)
        extensions = {k: v for k, v in failed.extensions.items() if k != "code"}
        message = f"{failed.message}; {error.message}"
        return GatewayError(message, failed.code, **extensions, created=False)
    twilio = {"twilioCode": error.code, "twilioStatus": error.status}
    status = error.status
    if error.reason is Reason.RESPONSE and status is not None:
        if status == 404:
            return GatewayError(f"{what} was not found", Code.NOT_FOUND, **twilio)
        if status == 401:
            return GatewayError(
                "Twilio did not accept the gateway's credentials", Code.UNAUTHENTICATED, **twilio
            )
        if status == 403:
            return GatewayError(f"not allowed to read {what}", Code.FORBIDDEN, **twilio)
        if status == 429:
            return GatewayError(
                "Twilio is rate limiting this account; try again later",
                Code.RATE_LIMITED,
                retryAfter=error.retry_after,
                **twilio,
            )
        if status == 409:
            conflicting = (error.details or {}).get("conflicting_execution_sid")
            return GatewayError(
                _conflict_message(error, conflicting),
                Code.CONFLICT,
                conflictingExecutionSid=conflicting if isinstance(conflicting, str) else None,
                **twilio,
            )
        if 400 <= status < 500:
            # Twilio's 400 messages describe the caller's input (20001, 81022,
            # 21481); `details` of 81022 lists what is wrong with a definition.
            return bad_input(
                _safe(error.message) or f"Twilio refused the request ({status})",
                details=error.details,
                **twilio,
            )
        return GatewayError(
            f"Twilio failed while reading {what} (HTTP {status})",
            Code.UPSTREAM_UNAVAILABLE,
            **twilio,
        )
    if error.reason is Reason.TIMEOUT:
        return GatewayError(f"Twilio did not answer in time for {what}", Code.UPSTREAM_TIMEOUT)
    if error.reason is Reason.MALFORMED:
        return GatewayError(
            f"Twilio sent an unreadable answer for {what}",
            Code.UPSTREAM_MALFORMED_RESPONSE,
            twilioStatus=status,
        )
    if error.reason is Reason.RATE_LIMITED:
        # Held back by the gateway before Twilio saw it: nothing was created.
        return GatewayError(error.message, Code.RATE_LIMITED, retryAfter=error.retry_after)
    if error.reason is Reason.CIRCUIT_OPEN:
        return GatewayError(
            f"Twilio is failing; calls for {what} are paused",
            Code.UPSTREAM_UNAVAILABLE,
            retryAfter=error.retry_after,
        )
    return GatewayError(f"Twilio could not be reached for {what}", Code.UPSTREAM_UNAVAILABLE)


def _conflict_message(error: StudioError, conflicting: object) -> str:
    if isinstance(conflicting, str):
        return (
            f"execution {conflicting} is already active for this contact; "
            "end it (endExecution) and try again"
        )
    return _safe(error.message) or "the request conflicts with the resource's current state"


def _safe(message: str) -> str:
    # Twilio's messages can name an upstream path ("The requested resource
    # /v2/Flows/... was not found"); keep them short and path-free.
    words = [w for w in message.split() if "/" not in w and "://" not in w]
    return " ".join(words)[:300]
