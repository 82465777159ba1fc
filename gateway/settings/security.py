"""Settings of who may call and how much: authentication, CORS, limits, persisted queries."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from gateway.settings.values import items

#: Request headers browsers may send cross-origin: ours, and those real clients
#: add (Apollo's client awareness and CSRF headers, W3C trace context and
#: baggage, Sentry's trace header).
CORS_ALLOW_HEADERS = (
    "Content-Type, Authorization, X-API-Key, X-Request-ID, X-Cost-Only, "
    "apollographql-client-name, apollographql-client-version, apollo-require-preflight, "
    "x-apollo-operation-name, traceparent, tracestate, baggage, sentry-trace"
)


class SecuritySettings(BaseSettings):
    """The environment, authentication, CORS, limits and persisted-query settings."""

    group_title: ClassVar[str] = "Security and limits"

    environment: Literal["development", "production"] = Field(
        "production",
        description=(
            "`development` turns on introspection, GraphiQL and field suggestions "
            "(each can still be set alone)."
        ),
    )
    introspection: bool | None = Field(
        None, description="Allow introspection; default by environment."
    )
    suggestions: bool | None = Field(
        None, description='"Did you mean …" in error messages; default by environment.'
    )
    auth: Literal["none", "api_keys", "jwt"] = Field(
        "none", description="How callers authenticate: `none`, `api_keys` or `jwt`."
    )
    allow_unauthenticated: bool = Field(
        False, description="Allow auth `none` on a non-loopback address (never for production)."
    )
    api_keys: str | None = Field(
        None,
        description=(
            "API keys as JSON: a list of {name, sha256, scopes}; see `studio-gateway hash-key`."
        ),
    )
    api_keys_file: str | None = Field(None, description="A file holding the API keys JSON.")
    jwt_jwks_url: str | None = Field(None, description="Where the JWT signing keys are (JWKS).")
    jwt_key: SecretStr | None = Field(
        None, description="A static JWT key: a PEM public key, or an HMAC secret."
    )
    jwt_algorithms: str = Field(
        "RS256", description="Accepted JWT algorithms, comma-separated (`none` is refused)."
    )
    jwt_issuer: str | None = Field(None, description="Required `iss` of JWTs.")
    jwt_audience: str | None = Field(None, description="Required `aud` of JWTs.")
    jwt_leeway: float = Field(30.0, ge=0, description="Clock skew allowed on `exp`/`nbf`, seconds.")
    jwt_jwks_refresh_cooldown: float = Field(
        30.0,
        ge=0,
        description="Seconds between JWKS refetches that a token with an unknown key id may cause.",
    )
    upstream_credentials: Literal["server", "passthrough"] = Field(
        "server",
        description=(
            "`server`: the TWILIO_* credentials; `passthrough`: each request's own "
            "Basic Authorization header goes upstream for that request alone."
        ),
    )
    cors_origins: str = Field(
        "", description="Browser origins allowed to call, comma-separated; empty allows none."
    )
    cors_allow_credentials: bool = Field(
        False, description="Let browsers send cookies/credentials (never with origin `*`)."
    )
    cors_allow_headers: str = Field(
        CORS_ALLOW_HEADERS,
        description="Request headers browsers may send cross-origin, comma-separated.",
    )
    cors_max_age: int = Field(
        600, ge=0, description="Seconds browsers may keep a preflight's answer."
    )
    max_depth: int = Field(10, ge=1, description="Deepest selection nesting allowed.")
    max_aliases: int = Field(30, ge=0, description="Aliases per operation, fragments expanded.")
    max_root_fields: int = Field(20, ge=1, description="Root fields per operation.")
    max_tokens: int = Field(2000, ge=10, description="Lexical tokens per document.")
    max_directives: int = Field(20, ge=0, description="Directives per operation.")
    max_body_bytes: int = Field(65536, ge=1024, description="Largest request body, bytes.")
    max_batch: int = Field(10, ge=1, description="Operations per batched request.")
    max_cost: int = Field(
        500,
        ge=1,
        description="Upstream calls an operation, or a whole batch, may be estimated to make.",
    )
    persisted_queries: bool = Field(
        True, description="Accept automatic persisted queries (Apollo APQ)."
    )
    persisted_queries_max_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description=(
            "Bytes all persisted queries may take together, per process and in Redis; "
            "the least recently used go first."
        ),
    )
    persisted_query_max_bytes: int = Field(
        32 * 1024, ge=256, description="Largest document a client may persist, bytes."
    )
    safelist_file: str | None = Field(
        None,
        description="A JSON manifest {sha256: document}; when set, only those operations run.",
    )

    @property
    def development(self) -> bool:
        return self.environment == "development"

    def feature(self, name: Literal["graphiql", "introspection", "suggestions"]) -> bool:
        """A switch that defaults to on in development and off in production."""
        value = getattr(self, name)
        return self.development if value is None else bool(value)

    def cors_origin_list(self) -> list[str]:
        return items(self.cors_origins)

    def cors_allow_header_list(self) -> list[str]:
        return items(self.cors_allow_headers)

    def jwt_algorithm_list(self) -> list[str]:
        return items(self.jwt_algorithms)
