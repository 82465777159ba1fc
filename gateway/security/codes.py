"""The `extensions.code` of every error a client can see, in one enumeration.

The gate refuses requests before GraphQL runs, and must not import the GraphQL
layer (docs/ARCHITECTURE.md, "Layers"); so the codes live here, below both, and
`gateway.graphql.errors` re-exports them.

Each code carries what it means and what a client should do about it, here and
nowhere else: the documentation's error-code page is generated from them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Code"]


class Code(StrEnum):
    """A client-facing error code, with its `meaning` and the client's `action`."""

    meaning: str
    action: str

    def __new__(cls, value: str, meaning: str, action: str) -> Code:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        member.action = action
        return member

    NOT_FOUND = (
        "NOT_FOUND",
        "The flow, revision, execution or step asked for does not exist (Twilio answered "
        "404), or a watched one was deleted during a subscription.",
        "Do not retry: check the SIDs or ids; Twilio deletes executions 30 days after they start.",
    )
    UNAUTHENTICATED = (
        "UNAUTHENTICATED",
        "No valid client credentials (API key or JWT), an expired token, or Twilio refused "
        "the upstream credentials (401).",
        "Send a valid key or token (a new one if it expired); in pass-through mode, check the "
        "Twilio credentials sent.",
    )
    FORBIDDEN = (
        "FORBIDDEN",
        "The caller is authenticated but lacks the scope for a field (e.g. `pii:read` for "
        "`context`), or Twilio answered 403.",
        "Do not retry: ask for a key or token with the scope, or leave the field out.",
    )
    RATE_LIMITED = (
        "RATE_LIMITED",
        "Too many requests: Twilio answered 429, the account's execution-create rate was "
        "reached, or a connection runs too many operations.",
        "Retry after `extensions.retryAfter` seconds (when given) with backoff; nothing was "
        "created.",
    )
    MISSED_EVENTS = (
        "MISSED_EVENTS",
        "A subscriber fell behind its queue, or the replica lost its event feed, and missed "
        "events; its subscription ended.",
        "Subscribe again: `executionUpdates` replays the execution's steps first, so nothing "
        "is lost.",
    )
    CONFLICT = (
        "CONFLICT",
        "Twilio refused a create because the contact already has an active execution of the "
        "flow (409).",
        "End the execution named by `extensions.conflictingExecutionSid`, or wait for it, "
        "then retry.",
    )
    CREATE_OUTCOME_UNKNOWN = (
        "CREATE_OUTCOME_UNKNOWN",
        "A create got no answer saying whether it ran, and one look at the flow's executions "
        "did not settle it; `extensions.executionSid` names the execution to check when "
        "there is one.",
        "Do not create again blindly: read the flow's executions (or the one named) to see "
        "whether it started, then create only if it did not.",
    )
    BAD_REQUEST = (
        "BAD_REQUEST",
        "The HTTP request itself is wrong: its method, media type, size, batch or JSON shape "
        "(or a WebSocket message's).",
        "Fix the request as the message says; do not retry it unchanged.",
    )
    BAD_USER_INPUT = (
        "BAD_USER_INPUT",
        "An argument or variable is invalid (a malformed id, cursor or date, `first` out of "
        "range), or Twilio refused the input (400).",
        "Fix the input the message names; `extensions.details` may list what Twilio found.",
    )
    GRAPHQL_PARSE_FAILED = (
        "GRAPHQL_PARSE_FAILED",
        "The document is not valid GraphQL syntax.",
        "Fix the document; the message gives the line and column.",
    )
    GRAPHQL_VALIDATION_FAILED = (
        "GRAPHQL_VALIDATION_FAILED",
        "The document does not match the schema (an unknown field or type, a missing "
        "argument, a wrong variable type).",
        "Fix the document against the schema (introspect it, or read schema.graphql).",
    )
    UPSTREAM_UNAVAILABLE = (
        "UPSTREAM_UNAVAILABLE",
        "Twilio failed (5xx), could not be reached, or the circuit is open because it keeps "
        "failing; the rest of the answer may still hold data.",
        "Retry later with backoff (after `extensions.retryAfter` when given).",
    )
    UPSTREAM_TIMEOUT = (
        "UPSTREAM_TIMEOUT",
        "Twilio did not answer within the call deadline, or the whole operation passed the "
        "request deadline.",
        "Retry later, or ask for less (fewer items or fields) so it fits the deadline.",
    )
    UPSTREAM_MALFORMED_RESPONSE = (
        "UPSTREAM_MALFORMED_RESPONSE",
        "Twilio answered with something the gateway could not read.",
        "Retry later; if it persists, report it with the request id (`X-Request-ID`).",
    )
    QUERY_TOO_EXPENSIVE = (
        "QUERY_TOO_EXPENSIVE",
        "The operation (or the whole batch) could make more upstream calls than "
        "STUDIO_GATEWAY_MAX_COST allows; nothing ran.",
        "Ask for fewer items (`first`) or fewer nested lists; `extensions` gives the estimate "
        "and the budget, and the `X-Cost-Only` header prices without running.",
    )
    QUERY_TOO_COMPLEX = (
        "QUERY_TOO_COMPLEX",
        "The document is too deep, or has too many aliases, root fields, directives or "
        "tokens; nothing ran.",
        "Simplify the document; `extensions` names the limit and its value.",
    )
    PERSISTED_QUERY_NOT_FOUND = (
        "PERSISTED_QUERY_NOT_FOUND",
        "An automatic persisted query's hash is not known to the gateway (yet).",
        "Send the same request again with the full `query` text (Apollo's and urql's "
        "persisted-query links do this by themselves).",
    )
    PERSISTED_QUERY_NOT_ALLOWED = (
        "PERSISTED_QUERY_NOT_ALLOWED",
        "The gateway runs only the operations of its safelist, and this is not one of them.",
        "Send a registered operation; add new ones with `studio-gateway safelist build` and "
        "redeploy the gateway.",
    )
    PERSISTED_QUERY_NOT_SUPPORTED = (
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "Automatic persisted queries are turned off (STUDIO_GATEWAY_PERSISTED_QUERIES=false).",
        "Send the full `query` text, without `extensions.persistedQuery`.",
    )
    INTERNAL_SERVER_ERROR = (
        "INTERNAL_SERVER_ERROR",
        "Something failed inside the gateway; the details are logged, never sent.",
        "Retry once; if it persists, report it with `extensions.requestId`.",
    )
