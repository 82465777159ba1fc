"""Client authentication at the gateway: none, static API keys, or JWT bearer tokens.

An authenticator turns request headers into a `Principal` or raises
`Unauthenticated`; the middleware answers 401 before anything else runs, so
a rejected request never costs an upstream call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.security.principal import EVERYONE, SCOPES, Principal


class Unauthenticated(Exception):
    """Missing or bad client credentials. The message is safe to show the caller."""


class Authenticator(Protocol):
    async def authenticate(self, headers: Mapping[str, str]) -> Principal: ...


class NoAuthentication:
    """Everyone holds every scope: loopback development and the demo only."""

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        return EVERYONE


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    scopes: frozenset[str]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh API key and the hash to configure; the key itself is never stored."""
    key = "sgw_" + secrets.token_urlsafe(32)
    return key, hash_key(key)


def parse_api_keys(text: str) -> list[ApiKey]:
    """API keys from JSON: `[{"name": …, "sha256": …, "scopes": [...]}, …]`."""
    try:
        entries = json.loads(text)
    except ValueError:
        raise ValueError("the API keys are not valid JSON") from None
    if not isinstance(entries, list):
        raise ValueError("the API keys must be a JSON list")
    keys = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"API key #{index + 1} is not an object")
        name, digest, scopes = entry.get("name"), entry.get("sha256"), entry.get("scopes")
        if not isinstance(name, str) or not name:
            raise ValueError(f"API key #{index + 1} has no name")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError(f"API key {name!r}: sha256 must be 64 hex digits")
        if not isinstance(scopes, list) or not set(scopes) <= SCOPES:
            raise ValueError(f"API key {name!r}: scopes must be a list of {sorted(SCOPES)}")
        keys.append(ApiKey(name, digest.lower(), frozenset(scopes)))
    return keys


class ApiKeyAuthentication:
    """Static API keys in `X-API-Key` (or `Authorization: Bearer`), stored as hashes."""

    def __init__(self, keys: Sequence[ApiKey], *, bearer: bool = True) -> None:
        self._keys = list(keys)
        self._bearer = bearer

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        key = headers.get("x-api-key")
        if key is None and self._bearer:
            key = _bearer(headers, required=False)
        if not key:
            raise Unauthenticated("send an API key in the X-API-Key header")
        digest = hash_key(key)
        for candidate in self._keys:
            if hmac.compare_digest(candidate.sha256, digest):
                return Principal(candidate.name, candidate.scopes)
        raise Unauthenticated("the API key is not valid")


class JwtAuthentication:
    """Bearer JWTs checked against a JWKS URL or a static key, with pinned algorithms."""

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        key: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 30.0,
        jwks_refresh_cooldown: float = 30.0,
    ) -> None:
        import jwt  # only this mode needs PyJWT

        self._jwt = jwt
        self.algorithms = [a for a in algorithms if a.lower() != "none"]
        if not self.algorithms:
            raise ValueError("no usable JWT algorithm")
        self._key = key
        # Keys are cached and refetched when a token names an unknown key id, at
        # most once per cool-down: random key ids must not make us hammer the JWKS.
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url,
                cache_keys=True,
                lifespan=300,
                timeout=5,
                cooldown_duration=jwks_refresh_cooldown,
            )
            if jwks_url
            else None
        )
        self.issuer, self.audience, self.leeway = issuer, audience, leeway

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        jwt = self._jwt
        token = _bearer(headers, required=True)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self.algorithms:
                raise Unauthenticated("the token's algorithm is not accepted")
            algorithms = self.algorithms
            if self._jwks is not None:
                signing = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: Any = signing.key
                # A key verifies only its own algorithm: an RSA key is never an HMAC
                # secret, whatever the token's header claims (algorithm confusion).
                algorithms = [a for a in algorithms if a == signing.algorithm_name]
                if not algorithms:
                    raise Unauthenticated("the token's algorithm does not match its key")
            else:
                key = self._key
            required = (
                ["exp"] + (["iss"] if self.issuer else []) + (["aud"] if self.audience else [])
            )
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet") from None
        except jwt.PyJWKClientError:
            raise Unauthenticated("the token's signing key could not be found") from None
        except (jwt.PyJWTError, TypeError, ValueError):
            # Invalid tokens, and keys unfit for the token's algorithm: never a 500.
            raise Unauthenticated("the token is not valid") from None
        # `exp` is required, and PyJWT checked that it is a number.
        expires_at = float(claims["exp"]) + self.leeway
        return Principal(str(claims.get("sub") or "jwt"), _scopes(claims), expires_at)


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp", []))
    granted = raw.split() if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    return frozenset(str(s) for s in granted) & SCOPES


def _bearer(headers: Mapping[str, str], *, required: bool) -> str:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if required:
            raise Unauthenticated("send a bearer token in the Authorization header")
        return ""
    return token.strip()
