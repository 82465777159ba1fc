"""`X-Twilio-Signature` on a JSON webhook, checked the way Twilio signs it.

For a JSON body Twilio adds `bodySHA256` (lowercase hex SHA-256 of the raw
body) to the URL's query and signs the full URL alone: base64 of HMAC-SHA1
keyed by the account's Auth Token, with no parameters appended. Its SDK
accepts the URL with and without the scheme's default port, because "sig
generation on back end is inconsistent"; so do we. Both comparisons are
constant-time. See ../shared/twilio/FACTS.md, sections 1.4 and 3.

Each account signs with its own Auth Token, so which token verifies a delivery
says which account it comes from (`signed_by`): the only account whose events
it may carry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit, urlunsplit

_DEFAULT_PORTS = {"https": 443, "http": 80}


def sign(auth_token: str, url: str) -> str:
    """The signature Twilio sends for `url` (the full URL, its query included)."""
    digest = hmac.new(auth_token.encode(), url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def body_sha256(body: bytes) -> str:
    """The `bodySHA256` query parameter Twilio adds for a JSON body."""
    return hashlib.sha256(body).hexdigest()


def is_valid(auth_token: str, url: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` is Twilio's for a JSON `body` delivered to `url`."""
    return bool(signed_by([("", auth_token)], url, body, signature))


def signed_by(
    signers: Iterable[tuple[str, str]], url: str, body: bytes, signature: str | None
) -> frozenset[str]:
    """The accounts of `signers` (account SID, Auth Token) whose token made `signature`
    for a JSON `body` delivered to `url`; none when it is not Twilio's."""
    if not signature:
        return frozenset()
    claimed = parse_qs(urlsplit(url).query).get("bodySHA256", [])
    # Bytes: compare_digest refuses a str with non-ASCII characters (a TypeError).
    if len(claimed) != 1 or not hmac.compare_digest(
        claimed[0].encode(), body_sha256(body).encode()
    ):
        return frozenset()
    given = signature.encode()
    candidates = _with_and_without_port(url)
    return frozenset(
        account
        for account, auth_token in signers
        if auth_token
        and any(
            hmac.compare_digest(sign(auth_token, candidate).encode(), given)
            for candidate in candidates
        )
    )


def _with_and_without_port(url: str) -> tuple[str, ...]:
    """`url` as received, then with its default port added or removed."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return (url,)
    if default is None or parts.hostname is None:
        return (url,)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = userinfo + "@" if userinfo else ""
    if port is None:
        other = prefix + f"{host}:{default}"
    elif port == default:
        other = prefix + host
    else:
        return (url,)
    return (url, urlunsplit(parts._replace(netloc=other)))
