"""What the settings configure here: how callers authenticate, and which upstream
credentials the gateway holds itself.

The settings come in as the few values read here (`SecuritySettings`), so this
layer needs nothing from the configuration layer above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from gateway.security.auth import (
    ApiKeyAuthentication,
    Authenticator,
    JwtAuthentication,
    NoAuthentication,
    parse_api_keys,
)
from gateway.studio import Credentials


class SecuritySettings(Protocol):
    """The settings read here (`gateway.settings.Settings` has them all)."""

    @property
    def auth(self) -> str: ...
    @property
    def api_keys(self) -> str | None: ...
    @property
    def api_keys_file(self) -> str | None: ...
    @property
    def upstream_credentials(self) -> str: ...
    @property
    def twilio_account_sid(self) -> str | None: ...
    @property
    def jwt_key(self) -> SecretStr | None: ...
    @property
    def jwt_jwks_url(self) -> str | None: ...
    @property
    def jwt_issuer(self) -> str | None: ...
    @property
    def jwt_audience(self) -> str | None: ...
    @property
    def jwt_leeway(self) -> float: ...
    @property
    def jwt_jwks_refresh_cooldown(self) -> float: ...
    def jwt_algorithm_list(self) -> list[str]: ...
    def credentials(self) -> Credentials: ...


def authenticator(settings: SecuritySettings) -> Authenticator:
    """Who may call: API keys, JWTs, or anyone (`auth=none`)."""
    if settings.auth == "api_keys":
        text = settings.api_keys
        if settings.api_keys_file:
            text = Path(settings.api_keys_file).read_text(encoding="utf-8")
        return ApiKeyAuthentication(
            parse_api_keys(text or "[]"),
            bearer=settings.upstream_credentials != "passthrough",
        )
    if settings.auth == "jwt":
        return JwtAuthentication(
            algorithms=settings.jwt_algorithm_list(),
            key=settings.jwt_key.get_secret_value() if settings.jwt_key else None,
            jwks_url=settings.jwt_jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway,
            jwks_refresh_cooldown=settings.jwt_jwks_refresh_cooldown,
        )
    return NoAuthentication()


def server_credentials(settings: SecuritySettings) -> Credentials:
    """The credentials the gateway calls Twilio with when a request brings none."""
    if settings.upstream_credentials == "passthrough" and not settings.twilio_account_sid:
        # Every request brings its own; this placeholder is never sent anywhere.
        return Credentials.auth_token("AC" + "0" * 32, "pass-through")
    return settings.credentials()
