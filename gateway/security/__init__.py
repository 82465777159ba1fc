"""Who may call, what they may read, and what a request may cost, decided before
any upstream call: client authentication, scopes, limits, persisted queries."""

from gateway.security.auth import (
    ApiKeyAuthentication,
    Authenticator,
    JwtAuthentication,
    NoAuthentication,
    Unauthenticated,
)
from gateway.security.codes import Code
from gateway.security.configured import SecuritySettings, authenticator, server_credentials
from gateway.security.documents import DocumentStore
from gateway.security.gate import GraphQLGate
from gateway.security.persisted import PersistedQueries, load_safelist
from gateway.security.principal import EVERYONE, NOBODY, SCOPES, Principal, quota_key

__all__ = [
    "EVERYONE",
    "NOBODY",
    "SCOPES",
    "ApiKeyAuthentication",
    "Authenticator",
    "Code",
    "DocumentStore",
    "GraphQLGate",
    "JwtAuthentication",
    "NoAuthentication",
    "PersistedQueries",
    "Principal",
    "SecuritySettings",
    "Unauthenticated",
    "authenticator",
    "load_safelist",
    "quota_key",
    "server_credentials",
]
