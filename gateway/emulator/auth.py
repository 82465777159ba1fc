"""HTTP Basic credentials: an account SID and auth token, or an API key and secret."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Final

# The demo account is public: anyone reading this file can use it, which is the point.
DEMO_ACCOUNT_SID: Final = "ACdec0de5eed00000000000000000000e7"
DEMO_AUTH_TOKEN: Final = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key: Basic auth with its SID and secret acts as `account_sid`."""

    sid: str
    secret: str
    account_sid: str


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """The (username, password) of a Basic Authorization header, or None."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def secrets_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
