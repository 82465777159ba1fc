"""Encryption at rest for cache entries that hold personal data.

`context` and `contact_channel_address` may reach Redis only sealed: AES-256-GCM
with a fresh 96-bit nonce per entry, the entry's cache key as associated data
(an entry copied under another key no longer opens), and the id of the key
that sealed it in front, so keys rotate without a flush: the first key seals,
every key opens.

    sealed = MAGIC (4 bytes) | key id (4) | nonce (12) | ciphertext and tag

A key id is a digest of the key, never the key; no key appears in a repr, a
log line or an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC: Final = b"\x00SG1"
KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_ID_BYTES: Final = 4


class CacheCipher:
    """Seals and opens cache entries; the first key seals, any key opens."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        for key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"each key must be {KEY_BYTES} bytes (AES-256)")
        self._keys = [(key_id(key), AESGCM(key)) for key in keys]
        self._by_id = dict(reversed(self._keys))

    def __repr__(self) -> str:
        return f"CacheCipher(keys={len(self._keys)})"

    @classmethod
    def from_text(cls, text: str) -> CacheCipher:
        """Keys as the setting holds them: base64 of 32 bytes each, comma-separated."""
        keys: list[bytes] = []
        for position, part in enumerate(p.strip() for p in text.split(",")):
            if not part:
                continue
            try:
                key = base64.b64decode(part, validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != KEY_BYTES:
                # Which key, never what it holds.
                raise ValueError(
                    f"key {position + 1} is not base64 of {KEY_BYTES} bytes "
                    "(`studio-gateway cache-key` makes one)"
                )
            keys.append(key)
        return cls(keys)

    @property
    def key_ids(self) -> list[str]:
        return [kid.hex() for kid, _ in self._keys]

    def seal(self, cache_key: str, plaintext: bytes) -> bytes:
        kid, aead = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        return MAGIC + kid + nonce + aead.encrypt(nonce, plaintext, cache_key.encode())

    def open(self, cache_key: str, sealed: bytes) -> bytes | None:
        """The plaintext, or None: not sealed, sealed by a key not held, or not authentic."""
        head = len(MAGIC) + _ID_BYTES
        if not sealed.startswith(MAGIC) or len(sealed) < head + _NONCE_BYTES + 16:
            return None
        aead = self._by_id.get(sealed[len(MAGIC) : head])
        if aead is None:
            return None
        nonce = sealed[head : head + _NONCE_BYTES]
        try:
            return aead.decrypt(nonce, sealed[head + _NONCE_BYTES :], cache_key.encode())
        except InvalidTag:
            return None


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"studio-gateway cache key id\0" + key).digest()[:_ID_BYTES]


def new_key() -> str:
    """A fresh key, as the setting takes it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()
