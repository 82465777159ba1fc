"""Two layers in front of Twilio: this process's memory, then Redis.

A read tries the process first, then Redis (filling the process on a hit),
and only then Twilio. Entries holding personal data (`context`,
`contact_channel_address`) go to Redis sealed by the `CacheCipher`, with the
cache key bound in; with no key configured they stay in the process alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from gateway.cache.cipher import CacheCipher
from gateway.cache.memory import MemoryCache
from gateway.cache.redis import RedisCache

logger = logging.getLogger("gateway.cache")


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached thing: its key, whether it holds personal data, what it belongs to."""

    key: str
    pii: bool
    #: The flow and execution it belongs to: invalidating either evicts it.
    tags: tuple[str, ...] = ()


class CacheObserver(Protocol):
    """Told of each look-up: which layer answered ("process", "redis"), or None for a miss."""

    def observe_cache(self, layer: str | None) -> None: ...


class LayeredCache:
    """The process layer, then (when configured) Redis; PII reaches Redis only sealed."""

    def __init__(
        self,
        local: MemoryCache,
        remote: RedisCache | None = None,
        *,
        cipher: CacheCipher | None = None,
        ttl: float = 3600.0,
        observer: CacheObserver | None = None,
    ) -> None:
        self.local = local
        self.remote = remote
        self.cipher = cipher
        self.ttl = ttl
        self.observer = observer

    def __repr__(self) -> str:
        return f"LayeredCache(local={self.local!r}, remote={self.remote!r}, cipher={self.cipher!r})"

    def shared(self, entry: Entry) -> bool:
        """Whether this entry may go to Redis: it holds no PII, or it can be sealed."""
        return self.remote is not None and (not entry.pii or self.cipher is not None)

    async def get(self, entry: Entry) -> bytes | None:
        value = await self.local.get(entry.key)
        if value is not None:
            self._observe("process")
            return value
        if self.remote is not None and self.shared(entry):
            value = self._open(entry, await self.remote.get(entry.key))
            if value is not None:
                await self.local.set(entry.key, value, self.ttl, entry.tags)
                self._observe("redis")
                return value
        self._observe(None)
        return None

    async def set(self, entry: Entry, value: bytes) -> None:
        await self.local.set(entry.key, value, self.ttl, entry.tags)
        if self.remote is not None and self.shared(entry):
            await self.remote.set(entry.key, self._seal(entry, value), self.ttl, entry.tags)

    async def invalidate(self, tags: list[str], *, gone: bool = False) -> None:
        """Evict every entry of `tags`; `gone`: they were deleted, refuse them from now on."""
        gone_for = self.ttl if gone else None
        self.local.invalidate(tags, gone_for=gone_for)
        if self.remote is not None:
            await self.remote.invalidate(tags, gone_for=gone_for)

    def _seal(self, entry: Entry, value: bytes) -> bytes:
        if not entry.pii:
            return value
        assert self.cipher is not None  # shared() said so
        return self.cipher.seal(entry.key, value)

    def _open(self, entry: Entry, stored: bytes | None) -> bytes | None:
        if stored is None or not entry.pii:
            return stored
        assert self.cipher is not None
        value = self.cipher.open(entry.key, stored)
        if value is None:
            # A key no longer held, or an entry not sealed for this key: fetch it again.
            logger.warning("a sealed cache entry did not open; it is fetched again")
        return value

    def _observe(self, layer: str | None) -> None:
        if self.observer is not None:
            self.observer.observe_cache(layer)

    async def aclose(self) -> None:
        await self.local.aclose()
