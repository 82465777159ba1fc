"""Permission classes: a field the caller lacks the scope for resolves to null
with a FORBIDDEN error, before its resolver runs — so before any upstream call.

`gateway.graphql.fields` gives a field the checks of the scopes it declares it
tests itself (`CHECKS`); `FLOW_DATA` and `EXECUTION_DATA` are what the data of
each family of objects needs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import strawberry
from strawberry.permission import BasePermission

from gateway.graphql.errors import Code, GatewayError
from gateway.graphql.policy import Scopes, data_of
from gateway.security.principal import (
    EXECUTIONS_READ,
    EXECUTIONS_WRITE,
    FLOWS_READ,
    FLOWS_WRITE,
    PII_READ,
    Principal,
    principal_of,
)


def principal(info: strawberry.Info[Any, Any]) -> Principal:
    """The caller the gate let in; a context without one holds no scope (never every scope)."""
    return principal_of(info.context)


class _Scope(BasePermission):
    scope: ClassVar[str]

    def has_permission(self, source: Any, info: strawberry.Info[Any, Any], **kwargs: Any) -> bool:
        return principal(info).allows(self.scope)

    def on_unauthorized(self) -> None:
        raise GatewayError(
            f"this field needs the {self.scope} scope", Code.FORBIDDEN, requiredScope=self.scope
        )


class FlowsRead(_Scope):
    scope = FLOWS_READ


class FlowsWrite(_Scope):
    scope = FLOWS_WRITE


class ExecutionsRead(_Scope):
    scope = EXECUTIONS_READ


class ExecutionsWrite(_Scope):
    scope = EXECUTIONS_WRITE


class PiiRead(_Scope):
    scope = PII_READ


#: The check of each scope, for the fields that test it themselves.
CHECKS: Final[dict[str, type[BasePermission]]] = {
    c.scope: c for c in (FlowsRead, FlowsWrite, ExecutionsRead, ExecutionsWrite, PiiRead)
}

#: What a flow or a revision holds: reached only through fields that check flows:read.
FLOW_DATA: Final[Scopes] = data_of(FLOWS_READ)
#: What an execution or a step holds: reached only through fields that check executions:read.
EXECUTION_DATA: Final[Scopes] = data_of(EXECUTIONS_READ)
