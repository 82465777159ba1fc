"""Which credentials Twilio has accepted in this process.

A bounded record of credential digests (never the secrets) whose last answer
from Twilio was a success. It lets a caller skip a wait only Twilio's verdict
would justify: reads ahead of a fetch go out only for credentials already
accepted, so a guessed token still costs exactly one refused call. A refusal
(401, 403) takes the credentials out again.
"""

from __future__ import annotations

import hashlib
from typing import Final

from cachetools import LRUCache

#: Credentials remembered at most; the least recently accepted go first.
MAX_ACCEPTED: Final = 1024


def credentials_digest(username: str, password: str) -> str:
    """A short digest of HTTP Basic credentials: it names them without holding the secret."""
    return hashlib.sha256(f"{username}:{password}".encode()).hexdigest()[:16]


class AcceptedCredentials:
    """The digests of the credentials Twilio last answered with a success."""

    __slots__ = ("_digests", "limit")

    def __init__(self, limit: int = MAX_ACCEPTED) -> None:
        self.limit = limit
        self._digests: LRUCache[str, None] = LRUCache(maxsize=limit)

    def __repr__(self) -> str:
        return f"AcceptedCredentials({len(self._digests)} of {self.limit})"

    def __len__(self) -> int:
        return len(self._digests)

    def holds(self, credentials_digest: str) -> bool:
        return credentials_digest in self._digests

    def answered(self, auth: tuple[str, str], status: int | None) -> None:
        """Note Twilio's answer to a call made with `auth`: accepted, refused, or neither."""
        if status is None:
            return  # no answer says nothing about the credentials
        key = credentials_digest(*auth)
        if status in (401, 403):
            self._digests.pop(key, None)
        elif status < 400:
            self._digests[key] = None  # the most recently accepted, the last to go
