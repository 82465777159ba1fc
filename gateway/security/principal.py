"""The caller of a request, and the scopes that guard fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

FLOWS_READ: Final = "flows:read"
FLOWS_WRITE: Final = "flows:write"
EXECUTIONS_READ: Final = "executions:read"
EXECUTIONS_WRITE: Final = "executions:write"
PII_READ: Final = "pii:read"

SCOPES: Final = frozenset({FLOWS_READ, FLOWS_WRITE, EXECUTIONS_READ, EXECUTIONS_WRITE, PII_READ})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. `name` is for logs; it is never a secret."""

    name: str
    scopes: frozenset[str]
    #: When its credentials stop being valid (Unix seconds): a JWT's `exp` and the
    #: leeway; None for those that do not expire (API keys, no authentication).
    expires_at: float | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


#: With client authentication off (loopback development, the demo): every scope.
#: Only an authenticator hands this out; nothing assumes it.
EVERYONE: Final = Principal("anonymous", SCOPES)

#: A request the gate never saw: no scope at all, so it reads and changes nothing.
NOBODY: Final = Principal("nobody", frozenset())


def principal_of(context: object) -> Principal:
    """The caller a request's context holds; a context without one (or with anything
    else in its place) holds no scope. Every scope check reads the caller through here."""
    found = getattr(context, "principal", NOBODY)
    return found if isinstance(found, Principal) else NOBODY


def quota_key(principal: Principal, address: str | None) -> str:
    """Whose share of a replica a caller spends (connections, subscriptions, calls).

    A principal's own; without client authentication every caller is the same
    principal, so each client address has a share of its own instead.
    """
    if principal is EVERYONE:
        return f"address {address or 'unknown'}"
    return f"principal {principal.name}"
