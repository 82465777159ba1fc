"""The `extensions.code` of every error a client can see, in one enumeration.

The gate refuses requests before GraphQL runs, and must not import the GraphQL
layer (docs/ARCHITECTURE.md, "Layers"); so the codes live here, below both, and
`gateway.graphql.errors` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Code"]


class Code(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    #: A subscriber fell behind its queue and missed events; its subscription ended.
    MISSED_EVENTS = "MISSED_EVENTS"
    CONFLICT = "CONFLICT"
    #: A create got no answer saying whether it ran, and looking did not settle it;
    #: `executionSid` names the execution to check when there is one.
    CREATE_OUTCOME_UNKNOWN = "CREATE_OUTCOME_UNKNOWN"
    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_MALFORMED_RESPONSE = "UPSTREAM_MALFORMED_RESPONSE"
    QUERY_TOO_EXPENSIVE = "QUERY_TOO_EXPENSIVE"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
