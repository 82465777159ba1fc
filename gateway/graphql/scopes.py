"""Permission classes: a field the caller lacks the scope for resolves to null
with a FORBIDDEN error, before its resolver runs — so before any upstream call."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from gateway.graphql.context import Info
from gateway.graphql.errors import Code, GatewayError
from gateway.security.principal import (
    EXECUTIONS_READ,
    EXECUTIONS_WRITE,
    FLOWS_READ,
    FLOWS_WRITE,
    PII_READ,
    Principal,
    principal_of,
)


def principal(info: Info) -> Principal:
    """The caller the gate let in; a context without one holds no scope (never every scope)."""
    return principal_of(info.context)


class _Scope(BasePermission):
    scope: ClassVar[str]

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
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
