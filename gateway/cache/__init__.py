"""The cache of what Studio can never change, in two layers.

What may be kept, and why (DESIGN.md, "What never changes"):

- a flow revision by number: its definition is frozen once written;
- an ended execution, its context, its steps and their contexts: an ended
  execution never runs again (its children only as read after it ended:
  `gateway/keeping.py` decides).

Nothing else is kept across requests: flows and active executions change.
Entries still expire (Twilio deletes executions 30 days after they start) and
go when a mutation deletes what they belong to; every key begins with the
account SID and a digest of the credentials, so no data crosses accounts.

Layers: `MemoryCache` (this process, bounded) in front of `RedisCache`
(every replica); `LayeredCache` reads through both and keeps personal data
out of Redis unless `CacheCipher` seals it.
"""

from __future__ import annotations

from typing import Protocol

from gateway.cache.cipher import CacheCipher, new_key
from gateway.cache.codec import decode, encode
from gateway.cache.layers import CacheObserver, Entry, LayeredCache
from gateway.cache.memory import MemoryCache
from gateway.cache.redis import RedisCache

#: How long immutable entries are kept: Twilio deletes executions after 30 days.
IMMUTABLE_TTL = 3600.0


class Cache(Protocol):
    """Bytes by key, with a time to live (persisted queries use it as it is)."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def aclose(self) -> None: ...


__all__ = [
    "IMMUTABLE_TTL",
    "Cache",
    "CacheCipher",
    "CacheObserver",
    "Entry",
    "LayeredCache",
    "MemoryCache",
    "RedisCache",
    "decode",
    "encode",
    "new_key",
]
