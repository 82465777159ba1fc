"""`Settings`: every setting, read once from the environment (and an optional `.env`).

Twilio's own variables keep their names (`TWILIO_ACCOUNT_SID`, …) so a
machine already set up for Twilio's SDKs needs nothing new; the gateway's own
settings are `STUDIO_GATEWAY_*`. Secrets are `SecretStr`: never printed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from gateway.cache import IMMUTABLE_TTL, CacheCipher
from gateway.settings.live import LiveSettings
from gateway.settings.security import SecuritySettings
from gateway.settings.values import secret
from gateway.studio import (
    CircuitPolicy,
    ClientConfig,
    Credentials,
    InvalidArgument,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
    studio_base_url,
)

__all__ = ["Settings", "SettingsError", "env_name", "load_settings"]


#: The value objects settings build: their defaults are the settings' defaults.
#: The longest call deadline the cache's read-ahead margin allows (see `call_deadline`).
MAX_CALL_DEADLINE: Final = 45.0
_CLIENT = ClientConfig()


def _twilio(name: str) -> AliasChoices:
    return AliasChoices(name)


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what it expected."""


class Settings(SecuritySettings, LiveSettings):
    """Every setting: the upstream, the server and the cache here; security and live
    executions in their own modules."""

    #: The heading of this class's own settings in `studio-gateway settings` and the docs.
    group_title: ClassVar[str] = "Upstream, server and cache"

    model_config = SettingsConfigDict(
        env_prefix="STUDIO_GATEWAY_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    # -- upstream ---------------------------------------------------------------
    twilio_account_sid: str | None = Field(
        None,
        validation_alias=_twilio("TWILIO_ACCOUNT_SID"),
        description="The Twilio account (AC…) whose Studio the gateway reads.",
    )
    twilio_auth_token: SecretStr | None = Field(
        None,
        validation_alias=_twilio("TWILIO_AUTH_TOKEN"),
        description="The account's Auth Token; or use an API key and secret.",
    )
    twilio_api_key: str | None = Field(
        None,
        validation_alias=_twilio("TWILIO_API_KEY"),
        description="An API key SID (SK…), used with TWILIO_API_SECRET instead of the Auth Token.",
    )
    twilio_api_secret: SecretStr | None = Field(
        None, validation_alias=_twilio("TWILIO_API_SECRET"), description="The API key's secret."
    )
    twilio_region: str | None = Field(
        None,
        validation_alias=_twilio("TWILIO_REGION"),
        description="Twilio's region outside US1 (e.g. `ie1`), with TWILIO_EDGE.",
    )
    twilio_edge: str | None = Field(
        None,
        validation_alias=_twilio("TWILIO_EDGE"),
        description="Twilio's edge location for the region (e.g. `dublin`).",
    )
    upstream_url: str | None = Field(
        None, description="Base URL of Studio (the emulator, a proxy); overrides region and edge."
    )
    connect_timeout: float = Field(
        _CLIENT.timeouts.connect, gt=0, description="Seconds to open a connection."
    )
    read_timeout: float = Field(
        _CLIENT.timeouts.read, gt=0, description="Seconds to wait for upstream bytes."
    )
    call_deadline: float = Field(
        _CLIENT.timeouts.deadline,
        gt=0,
        # A read of an ended execution's steps is kept as final only if it started
        # keeping.READ_AHEAD_MARGIN (60 s) after the execution ended, and a read
        # joining one in flight may have started one deadline before it: at most
        # 45 s leaves 15 s of the margin for clock skew and Studio's write lag.
        le=MAX_CALL_DEADLINE,
        description="Seconds for one upstream call, all retries included (at most 45).",
    )
    max_attempts: int = Field(
        _CLIENT.retry.max_attempts, ge=1, le=10, description="Attempts per upstream call."
    )
    max_in_flight: int = Field(
        _CLIENT.max_in_flight, ge=1, description="Upstream calls in flight per process."
    )
    request_deadline: float = Field(
        10.0, ge=0, description="Seconds a whole GraphQL operation may take; 0 for none."
    )
    circuit_breaker: bool = Field(
        _CLIENT.circuit.enabled, description="Fail fast while Twilio keeps failing."
    )
    circuit_failure_ratio: float = Field(
        _CLIENT.circuit.failure_ratio,
        gt=0,
        le=1,
        description="Failed share of attempts that opens the circuit.",
    )
    circuit_min_calls: int = Field(
        _CLIENT.circuit.min_calls, ge=1, description="Attempts in the window before it may open."
    )
    circuit_window: float = Field(
        _CLIENT.circuit.window, gt=0, description="The circuit's rolling window, seconds."
    )
    circuit_cooldown: float = Field(
        _CLIENT.circuit.cooldown, gt=0, description="Seconds open before trial calls."
    )
    circuit_trial_calls: int = Field(
        _CLIENT.circuit.trial_calls, ge=1, description="Trial calls that must all succeed."
    )
    retry_budget_ratio: float = Field(
        _CLIENT.retry_budget.ratio,
        ge=0,
        description="Retries allowed as a share of first attempts.",
    )
    retry_budget_min_retries: int = Field(
        _CLIENT.retry_budget.min_retries, ge=0, description="Retries always allowed per window."
    )
    single_flight: bool = Field(
        _CLIENT.single_flight, description="Share identical concurrent upstream reads."
    )
    account_max_in_flight: int | None = Field(
        None,
        ge=1,
        description=(
            "Upstream calls in flight at once for the account, across every replica "
            "sharing Redis (per process without it); unset for no such bound."
        ),
    )
    create_rate: float = Field(
        20.0,
        ge=0,
        description=(
            "Executions created in any one second per account, across every replica "
            "sharing Redis (Twilio's limit is 20); 0 for no pacing."
        ),
    )
    create_wait: float = Field(
        2.0,
        ge=0,
        description=(
            "Seconds a create may wait in all, for its turn and for Twilio's 429s, "
            "before RATE_LIMITED."
        ),
    )
    create_lookup_timeout: float = Field(
        _CLIENT.create_lookup,
        gt=0,
        description=(
            "Seconds for the one look at the flow's executions after a create got no "
            "answer saying whether it ran."
        ),
    )

    # -- server -----------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    admin_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description=(
            "A second port for /healthz, /readyz and /metrics, apart from clients' "
            "traffic; then /metrics is not served on `port`. Unset: all on `port`."
        ),
    )
    admin_host: str | None = Field(
        None, description="Address the admin port listens on; default: `host`."
    )
    workers: int = Field(1, ge=1, description="Worker processes.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="`debug`, `info`, `warning` or `error`."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="`json` (one object per line) or `text`."
    )
    graphiql: bool | None = Field(
        None, description="Serve GraphiQL to browsers at /graphql; default by environment."
    )
    drain_seconds: float = Field(
        0.0,
        ge=0,
        description="After SIGTERM, seconds to keep serving with /readyz at 503 before stopping.",
    )
    shutdown_grace: float = Field(
        30.0, gt=0, description="Seconds in-flight requests get to finish when stopping."
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        description=(
            "Seconds a client has to send a request's headers, from connecting or from a "
            "kept-alive request's first byte; then 408 and the connection is closed."
        ),
    )
    min_body_rate: float = Field(
        1024.0,
        ge=0,
        description=(
            "Bytes a second a request body must average once its grace is over; a slower "
            "body's connection is closed. 0 for no minimum."
        ),
    )
    body_grace: float = Field(
        5.0, gt=0, description="Seconds a request body may take before its rate counts."
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description=(
            "HTTP connections (or requests in progress) per process; past it a request is "
            "answered 503 and its connection closed. WebSockets have bounds of their own, "
            "and /healthz, /readyz and /metrics are always answered."
        ),
    )
    compress_min_bytes: int = Field(
        1024,
        ge=0,
        description=(
            "Compress answers of at least this many bytes (brotli, zstd or gzip, as the "
            "client accepts); 0 turns compression off."
        ),
    )
    compress_thread_bytes: int = Field(
        # gateway.http.compression.THREAD_BYTES (its layer is above this one)
        64 * 1024,
        ge=0,
        description=(
            "Compress answers of at least this many bytes in a worker thread, so a big "
            "answer does not hold up the other requests; 0 compresses every one there."
        ),
    )
    http_cache_max_age: int = Field(
        300,
        ge=0,
        description=(
            "Seconds a client may keep a GET answer read only from what never changes "
            "(`Cache-Control: private`); 0 makes every answer `no-store`."
        ),
    )

    # -- cache ------------------------------------------------------------------
    redis_url: str | None = Field(
        None, description="Redis for the shared cache; unset keeps the cache in-process."
    )
    redis_timeout: float = Field(
        0.25,
        gt=0,
        description="Seconds any Redis command may take before the replica goes on without it.",
    )
    redis_required: bool = Field(
        False, description="Report not ready while the configured Redis is unreachable."
    )
    cache_ttl: float = Field(
        IMMUTABLE_TTL,
        ge=0,
        description="Seconds to keep immutable upstream data; 0 turns caching off.",
    )
    cache_max_entries: int = Field(
        50_000, ge=1, description="Entries the in-process cache layer holds at most (LRU)."
    )
    cache_encryption_keys: SecretStr | None = Field(
        None,
        description=(
            "Keys sealing cache entries with personal data in Redis (AES-256-GCM): base64 "
            "of 32 bytes each, comma-separated; the first seals, all open. Unset: such "
            "entries stay in-process."
        ),
    )

    @field_validator("upstream_url", "events_public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        origins = self.cors_origin_list()
        if "*" in origins and self.cors_allow_credentials:
            raise ValueError("cors_origins: '*' cannot be combined with cors_allow_credentials")
        if "none" in {a.lower() for a in self.jwt_algorithm_list()}:
            raise ValueError("jwt_algorithms: the 'none' algorithm is refused")
        if self.auth == "jwt" and not (self.jwt_jwks_url or self.jwt_key):
            raise ValueError("jwt_jwks_url: auth=jwt needs a JWKS URL or a static jwt_key")
        if self.auth == "jwt" and self.upstream_credentials == "passthrough":
            raise ValueError(
                "upstream_credentials: passthrough uses the Authorization header, "
                "so it cannot be combined with auth=jwt (use api_keys)"
            )
        if self.persisted_query_max_bytes > self.persisted_queries_max_bytes:
            raise ValueError(
                "persisted_query_max_bytes: cannot exceed "
                f"STUDIO_GATEWAY_PERSISTED_QUERIES_MAX_BYTES ({self.persisted_queries_max_bytes})"
            )
        if self.auth == "api_keys" and not (self.api_keys or self.api_keys_file):
            raise ValueError("api_keys: auth=api_keys needs api_keys or api_keys_file")
        if self.admin_port and self.admin_port == self.port:
            raise ValueError("admin_port: must differ from STUDIO_GATEWAY_PORT")
        if not self.events_path.startswith("/"):
            raise ValueError("events_path: must start with /")
        signers = self.events_signers()  # the list parses, or start-up stops naming the item
        if self.events and self.events_auth_token and not self.twilio_account_sid:
            raise ValueError(
                "events_auth_token: it signs for the gateway's own account, and "
                "TWILIO_ACCOUNT_SID is not set: set it, or list the account in "
                "STUDIO_GATEWAY_EVENTS_AUTH_TOKENS as AC…:token"
            )
        if self.events and not signers:
            raise ValueError(
                "events_auth_token: events need the Auth Token that signs Twilio's deliveries "
                "(set STUDIO_GATEWAY_EVENTS_AUTH_TOKEN, or TWILIO_AUTH_TOKEN, with "
                "TWILIO_ACCOUNT_SID; or STUDIO_GATEWAY_EVENTS_AUTH_TOKENS)"
            )
        self.cache_cipher()  # the keys parse, or start-up stops naming which one
        return self

    def cache_cipher(self) -> CacheCipher | None:
        """What seals personal data in Redis; None without keys."""
        text = secret(self.cache_encryption_keys).strip()
        if not text:
            return None
        try:
            return CacheCipher.from_text(text)
        except ValueError as error:
            raise ValueError(f"cache_encryption_keys: {error}") from None

    def events_signers(self) -> list[tuple[str, str]]:
        """Each account whose Event Streams deliveries are received, with the Auth Token
        that signs them: the gateway's own (the events token, else its Auth Token), then
        those `events_auth_tokens` lists."""
        own = secret(self.events_auth_token) or secret(self.twilio_auth_token)
        mine = [(self.twilio_account_sid, own)] if self.twilio_account_sid and own else []
        return mine + self.listed_signers()

    def base_url(self) -> str:
        if self.upstream_url:
            return self.upstream_url
        try:
            return studio_base_url(self.twilio_region, self.twilio_edge)
        except InvalidArgument as error:
            raise SettingsError(str(error)) from None

    def credentials(self) -> Credentials:
        environ = {
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid or "",
            "TWILIO_AUTH_TOKEN": secret(self.twilio_auth_token),
            "TWILIO_API_KEY": self.twilio_api_key or "",
            "TWILIO_API_SECRET": secret(self.twilio_api_secret),
        }
        try:
            return Credentials.from_env(environ)
        except InvalidArgument as error:
            raise SettingsError(str(error)) from None

    def client_config(self) -> ClientConfig:
        return ClientConfig(
            base_url=self.base_url(),
            timeouts=Timeouts(
                connect=self.connect_timeout, read=self.read_timeout, deadline=self.call_deadline
            ),
            retry=RetryPolicy(max_attempts=self.max_attempts),
            max_in_flight=self.max_in_flight,
            retry_budget=RetryBudgetPolicy(
                ratio=self.retry_budget_ratio, min_retries=self.retry_budget_min_retries
            ),
            circuit=CircuitPolicy(
                failure_ratio=self.circuit_failure_ratio,
                min_calls=self.circuit_min_calls,
                window=self.circuit_window,
                cooldown=self.circuit_cooldown,
                trial_calls=self.circuit_trial_calls,
                enabled=self.circuit_breaker,
            ),
            single_flight=self.single_flight,
            create_rate=self.create_rate or None,
            create_wait=self.create_wait,
            create_lookup=self.create_lookup_timeout,
            account_max_in_flight=self.account_max_in_flight,
        )


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; one clear `SettingsError` when any is wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        name = ".".join(str(p) for p in first["loc"])
        if not name and ": " in message:
            # A check across settings names its setting at the head of the message.
            name, message = message.split(": ", 1)
        raise SettingsError(f"{env_name(name or 'settings')}: {message}") from None


def env_name(field: str) -> str:
    """The environment variable that sets a field."""
    upper = field.upper()
    return upper if upper.startswith("TWILIO_") else f"STUDIO_GATEWAY_{upper}"
