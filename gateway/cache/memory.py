"""The process's own layer: an LRU of bytes with expiry, bounded in entries.

Entries may carry tags (the flow, the execution they belong to), so that one
mutation evicts everything of what it changed; a tag invalidated as gone keeps
a tombstone for a while, so an answer fetched before the deletion and stored
after it is refused.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable

from gateway.studio.window import Clock

#: Tombstones kept at most; the oldest go first.
MAX_TOMBSTONES = 10_000


class MemoryCache:
    """An in-process LRU cache with expiry and tags, bounded in entries."""

    def __init__(self, max_entries: int = 50_000, *, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes, tuple[str, ...]]] = OrderedDict()
        self._tagged: dict[str, set[str]] = {}
        self._gone: OrderedDict[str, float] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryCache(entries={len(self._data)}, max_entries={self.max_entries})"

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value, _ = entry
        if expires < self._clock():
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None:
        tags = tuple(tags)
        if any(self._is_gone(tag) for tag in tags):
            return
        self._drop(key)
        self._data[key] = (self._clock() + ttl, value, tags)
        for tag in tags:
            self._tagged.setdefault(tag, set()).add(key)
        while len(self._data) > self.max_entries:
            self._drop(next(iter(self._data)))

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
                self._gone[tag] = self._clock() + gone_for
                self._gone.move_to_end(tag)
                while len(self._gone) > MAX_TOMBSTONES:
                    self._gone.popitem(last=False)
        return dropped

    def clear(self) -> None:
        """Forget every entry (tombstones stay)."""
        self._data.clear()
        self._tagged.clear()

    async def aclose(self) -> None:
        self.clear()

    def _drop(self, key: str) -> None:
        entry = self._data.pop(key, None)
        if entry is None:
            return
        for tag in entry[2]:
            keys = self._tagged.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tagged[tag]

    def _is_gone(self, tag: str) -> bool:
        until = self._gone.get(tag)
        if until is None:
            return False
        if until < self._clock():
            del self._gone[tag]
            return False
        return True
