"""Twilio credentials and where they send requests.

Read the way Twilio's SDKs and CLI read them: `TWILIO_ACCOUNT_SID` with
`TWILIO_AUTH_TOKEN`, or `TWILIO_API_KEY` + `TWILIO_API_SECRET` with the
account SID; `TWILIO_REGION` / `TWILIO_EDGE` shape the host;
`STUDIO_GATEWAY_UPSTREAM_URL` replaces the base URL outright.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.studio.accepted import credentials_digest
from gateway.studio.errors import InvalidArgument
from gateway.studio.sids import is_sid, validate


@dataclass(frozen=True, slots=True)
class Credentials:
    """HTTP Basic credentials for Twilio, and the account they act for.

    `username` is the account SID or an API key SID (`SK…`); `password` is the
    auth token or the key's secret. The secret never appears in a repr.
    """

    account_sid: str
    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        validate("AC", self.account_sid)
        if not (is_sid("AC", self.username) or is_sid("SK", self.username)):
            raise InvalidArgument(
                "the Twilio username must be the account SID (AC…) or an API key SID (SK…)"
            )
        if not self.password:
            raise InvalidArgument("the Twilio auth token or API key secret is empty")

    @classmethod
    def auth_token(cls, account_sid: str, token: str) -> Credentials:
        return cls(account_sid=account_sid, username=account_sid, password=token)

    @classmethod
    def api_key(cls, account_sid: str, key_sid: str, secret: str) -> Credentials:
        return cls(account_sid=account_sid, username=key_sid, password=secret)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Credentials:
        """Credentials from `TWILIO_*` variables, as the Twilio SDKs read them."""
        account = environ.get("TWILIO_ACCOUNT_SID", "").strip()
        if not account:
            raise InvalidArgument("TWILIO_ACCOUNT_SID is not set")
        key = environ.get("TWILIO_API_KEY", "").strip()
        if key:
            secret = environ.get("TWILIO_API_SECRET", "")
            if not secret:
                raise InvalidArgument("TWILIO_API_KEY is set but TWILIO_API_SECRET is not")
            return cls.api_key(account, key, secret)
        token = environ.get("TWILIO_AUTH_TOKEN", "")
        if not token:
            raise InvalidArgument(
                "set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET, "
                "with TWILIO_ACCOUNT_SID"
            )
        return cls.auth_token(account, token)

    @classmethod
    def from_basic_header(cls, header: str) -> Credentials:
        """Credentials from an `Authorization: Basic …` header (pass-through mode).

        An API key's account is not in the header; such a caller must be an
        account SID, so the account is known without asking Twilio.
        """
        scheme, _, payload = header.partition(" ")
        if scheme.lower() != "basic" or not payload:
            raise InvalidArgument("expected HTTP Basic credentials")
        try:
            decoded = base64.b64decode(payload.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument("the Basic credentials are not valid base64") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidArgument("the Basic credentials have no password")
        if not is_sid("AC", username):
            raise InvalidArgument("the Basic username must be a Twilio account SID")
        return cls.auth_token(username, password)

    @property
    def basic_auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    @property
    def scope(self) -> str:
        """A key prefix unique to these credentials: the account SID and a digest.

        Caching by account SID alone would let a caller who merely names an
        account (pass-through mode, a wrong token) read what another cached.
        """
        return f"{self.account_sid}:{self.digest}"

    @property
    def digest(self) -> str:
        """A digest of the username and secret: names these credentials, holds no secret."""
        return credentials_digest(self.username, self.password)


def base_url_from_env(environ: Mapping[str, str]) -> str:
    """The Studio base URL: the override, else the host that region and edge give."""
    override = environ.get("STUDIO_GATEWAY_UPSTREAM_URL", "").strip()
    if override:
        return override.rstrip("/")
    return studio_base_url(
        region=environ.get("TWILIO_REGION", "").strip() or None,
        edge=environ.get("TWILIO_EDGE", "").strip() or None,
    )


def studio_base_url(region: str | None = None, edge: str | None = None) -> str:
    """`https://studio.{edge}.{region}.twilio.com`, as Twilio's SDKs build it.

    An edge alone implies region us1 (the SDK's rule). A region alone gives the
    deprecated edgeless host, which Twilio routes through US1.
    """
    if edge and not region:
        region = "us1"
    parts = ["studio"]
    for part, what in ((edge, "TWILIO_EDGE"), (region, "TWILIO_REGION")):
        if part:
            if not part.replace("-", "").isalnum():
                raise InvalidArgument(f"{what} must be a plain name like 'dublin' or 'ie1'")
            parts.append(part.lower())
    return "https://" + ".".join([*parts, "twilio.com"])
