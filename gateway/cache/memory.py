"""The process's own layer: an LRU of bytes with expiry, bounded in entries.

Entries may carry tags (the flow, the execution they belong to), so that one
mutation evicts everything of what it changed; a tag invalidated as gone keeps
a tombstone for a while, so an answer fetched before the deletion and stored
after it is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from cachetools import TLRUCache

from gateway.studio.window import Clock

#: Tombstones kept at most; the oldest go first.
MAX_TOMBSTONES = 10_000


class _Entry(NamedTuple):
    expires: float
    value: bytes
    tags: tuple[str, ...]


class _Entries(TLRUCache[str, _Entry, float]):
    """Entries by key, each expiring at its own time, the least recently used going
    first past `maxsize`; `dropped` is told of each that expires or is let go."""

    def __init__(self, maxsize: int, clock: Clock, dropped: Callable[[str, _Entry], None]):
        super().__init__(maxsize=maxsize, ttu=lambda key, entry, now: entry.expires, timer=clock)
        self._dropped = dropped

    def popitem(self) -> tuple[str, _Entry]:
        key, entry = super().popitem()
        self._dropped(key, entry)
        return key, entry

    def expire(self, time: float | None = None) -> list[tuple[str, _Entry]]:
        expired = super().expire(time)
        for key, entry in expired:
            self._dropped(key, entry)
        return expired


class MemoryCache:
    """An in-process LRU cache with expiry and tags, bounded in entries."""

    def __init__(self, max_entries: int = 50_000, *, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._data = _Entries(max_entries, clock, self._untag)
        self._tagged: dict[str, set[str]] = {}
        # A tag gone until a time: refused until then, the oldest forgotten first.
        self._gone: TLRUCache[str, float, float] = TLRUCache(
            maxsize=MAX_TOMBSTONES, ttu=lambda tag, until, now: until, timer=clock
        )

    def __repr__(self) -> str:
        return f"MemoryCache(entries={len(self._data)}, max_entries={self.max_entries})"

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        return entry.value if entry is not None else None

    async def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None:
        tags = tuple(tags)
        if any(self._is_gone(tag) for tag in tags):
            return
        self._drop(key)
        self._data[key] = _Entry(self._clock() + ttl, value, tags)
        for tag in tags:
            self._tagged.setdefault(tag, set()).add(key)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._drop(key)

    def invalidate(self, tags: Iterable[str], *, gone_for: float | None = None) -> int:
        """Drop every entry with one of `tags`; with `gone_for`, refuse them that long."""
        dropped = 0
        for tag in tags:
            for key in list(self._tagged.get(tag, ())):
                self._drop(key)
                dropped += 1
            if gone_for:
                self._gone.pop(tag, None)  # renewed: the newest tombstone, the last to go
                self._gone[tag] = self._clock() + gone_for
        return dropped

    def clear(self) -> None:
        """Forget every entry (tombstones stay)."""
        self._data.clear()
        self._tagged.clear()

    async def aclose(self) -> None:
        self.clear()

    def _is_gone(self, tag: str) -> bool:
        return tag in self._gone

    def _drop(self, key: str) -> None:
        entry = self._data.pop(key, None)
        if entry is not None:
            self._untag(key, entry)

    def _untag(self, key: str, entry: _Entry) -> None:
        for tag in entry.tags:
            keys = self._tagged.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tagged[tag]
