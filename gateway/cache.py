"""A shared cache for what Studio can never change.

What may be kept, and why (docs/ARCHITECTURE.md, "What never changes"):

- a flow revision by number: its definition is frozen once written;
- an ended execution, its context, its steps and their contexts: an ended
  execution never runs again.

Nothing else is kept across requests: flows and active executions change.
Entries still expire (Twilio deletes executions 30 days after they start),
and every key begins with the account SID, so no data crosses accounts.

One interface, two backends: `MemoryCache` (the default, per process) and
`RedisCache` (shared by every replica).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, Protocol

#: How long immutable entries are kept by default (`STUDIO_GATEWAY_CACHE_TTL`): an
#: hour, well inside the 30 days after which Twilio deletes executions.
IMMUTABLE_TTL = 3600.0


class Cache(Protocol):
    """Bytes by key, with a time to live."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    """An in-process LRU cache with expiry, bounded in entries."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._data[key] = (time.monotonic() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def aclose(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class RedisCache:
    """The cache in Redis, shared by every replica."""

    def __init__(self, url: str, *, prefix: str = "studio-gateway:") -> None:
        import redis.asyncio as redis  # imported here: only this backend needs it

        self._redis = redis.Redis.from_url(url)
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self.prefix + key)
        # The client does not decode responses: a value comes as bytes (its types allow str).
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis.set(self.prefix + key, value, px=max(1, int(ttl * 1000)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self.prefix + key for key in keys))

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def aclose(self) -> None:
        await self._redis.aclose()


def encode(record: Any) -> bytes:
    """A record (or a list of them, or a page) as JSON bytes."""
    return json.dumps(_plain(record), separators=(",", ":")).encode()


def decode(data: bytes) -> Any:
    return json.loads(data)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
