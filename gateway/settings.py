"""All configuration, read once from the environment (and an optional `.env`).

Twilio's own variables keep their names (`TWILIO_ACCOUNT_SID`, …) so a
machine already set up for Twilio's SDKs needs nothing new; the gateway's own
settings are `STUDIO_GATEWAY_*`. Secrets are `SecretStr`: never printed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.studio import (
    ClientConfig,
    Credentials,
    InvalidArgument,
    RetryPolicy,
    Timeouts,
    studio_base_url,
)

__all__ = ["Settings", "SettingsError", "load_settings"]


def _twilio(name: str) -> AliasChoices:
    return AliasChoices(name)


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what it expected."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STUDIO_GATEWAY_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    # -- upstream ---------------------------------------------------------------
    twilio_account_sid: str | None = Field(None, validation_alias=_twilio("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: SecretStr | None = Field(None, validation_alias=_twilio("TWILIO_AUTH_TOKEN"))
    twilio_api_key: str | None = Field(None, validation_alias=_twilio("TWILIO_API_KEY"))
    twilio_api_secret: SecretStr | None = Field(None, validation_alias=_twilio("TWILIO_API_SECRET"))
    twilio_region: str | None = Field(None, validation_alias=_twilio("TWILIO_REGION"))
    twilio_edge: str | None = Field(None, validation_alias=_twilio("TWILIO_EDGE"))
    upstream_url: str | None = Field(
        None, description="Base URL of Studio (the emulator, a proxy); overrides region and edge."
    )
    connect_timeout: float = Field(3.0, gt=0, description="Seconds to open a connection.")
    read_timeout: float = Field(10.0, gt=0, description="Seconds to wait for upstream bytes.")
    call_deadline: float = Field(
        15.0, gt=0, description="Seconds for one upstream call, all retries included."
    )
    max_attempts: int = Field(3, ge=1, le=10, description="Attempts per upstream call.")
    max_in_flight: int = Field(50, ge=1, description="Upstream calls in flight per process.")

    # -- server -----------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    workers: int = Field(1, ge=1, description="Worker processes.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="`debug`, `info`, `warning` or `error`."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="`json` (one object per line) or `text`."
    )
    graphiql: bool = Field(True, description="Serve GraphiQL to browsers at /graphql.")
    drain_seconds: float = Field(
        0.0,
        ge=0,
        description="After SIGTERM, seconds to keep serving with /readyz at 503 before stopping.",
    )
    shutdown_grace: float = Field(
        30.0, gt=0, description="Seconds in-flight requests get to finish when stopping."
    )

    # -- cache ------------------------------------------------------------------
    redis_url: str | None = Field(
        None, description="Redis for the shared cache; unset keeps the cache in-process."
    )
    redis_required: bool = Field(
        False, description="Report not ready while the configured Redis is unreachable."
    )
    cache_ttl: float = Field(
        3600.0, ge=0, description="Seconds to keep immutable upstream data; 0 turns caching off."
    )

    @field_validator("upstream_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

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
            "TWILIO_AUTH_TOKEN": _secret(self.twilio_auth_token),
            "TWILIO_API_KEY": self.twilio_api_key or "",
            "TWILIO_API_SECRET": _secret(self.twilio_api_secret),
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
        )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; one clear `SettingsError` when any is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        env = (
            name.upper() if name.upper().startswith("TWILIO_") else f"STUDIO_GATEWAY_{name.upper()}"
        )
        raise SettingsError(f"{env}: {first['msg']}") from None
