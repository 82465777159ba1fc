"""Two layers in front of Twilio: this process's memory, then Redis.

A read tries the process first, then Redis (filling the process on a hit),
and only then Twilio. Entries holding personal data (`context`,
`contact_channel_address`) go to Redis sealed by the `CacheCipher`, with the
cache key bound in; with no key configured they stay in the process alone.

A miss on several replicas at once costs Twilio one call: the first takes a
short lock in Redis (redis-py's `Lock`, taken without waiting) and fetches;
the others wait for the entry (polling, bounded by the lock's life) and fetch
themselves only if it never comes, as when the answer was not one to keep.

Invalidation reaches every replica: the Redis script that deletes a tag's
entries also publishes the tags, and each replica's listener evicts them from
its process layer. A replica that lost Redis cannot know what it missed, so
when Redis answers again it empties its process layer, and sends the
invalidations it could not send while Redis was away: each once, oldest first,
by one sender at a time (Redis's return is noticed twice, by the connection and
by the listener), and any made meanwhile wait behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

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


#: Invalidations kept for sending while Redis is away; the oldest go first.
MAX_PENDING = 1000


class LayeredCache:
    """The process layer, then (when configured) Redis; PII reaches Redis only sealed."""

    def __init__(
        self,
        local: MemoryCache,
        remote: RedisCache | None = None,
        *,
        cipher: CacheCipher | None = None,
        ttl: float = 3600.0,
        fill_wait: float = 15.0,
        observer: CacheObserver | None = None,
    ) -> None:
        self.local = local
        self.remote = remote
        self.cipher = cipher
        self.ttl = ttl
        #: How long a fill lock lives, and so how long others wait for its entry.
        self.fill_wait = fill_wait
        self.observer = observer
        self._pending: deque[tuple[tuple[str, ...], float | None]] = deque(maxlen=MAX_PENDING)
        #: Held by whoever sends the pending invalidations, so each goes once, in order.
        self._sending = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        #: Invalidations heard on the channel since start (this replica's own too).
        self.heard = 0
        if remote is not None:
            remote.shared.on_recovery(self._recovered)

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

    @contextlib.asynccontextmanager
    async def filling(self, entry: Entry) -> AsyncIterator[bytes | None]:
        """After a miss: the entry as another replica stored it while we waited, or
        None: then fetch it (and `set` it) inside this block, which holds the lock."""
        if self.remote is None or not self.shared(entry):
            yield None
            return
        lock = await self.remote.lock(entry.key, self.fill_wait)
        if lock is None:  # no Redis: nobody to share with
            yield None
            return
        if lock:
            try:
                yield None
            finally:
                await self.remote.unlock(lock)
            return
        yield await self._wait_for(entry)

    async def _wait_for(self, entry: Entry) -> bytes | None:
        """Poll for an entry another replica is fetching, until its lock goes."""
        assert self.remote is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.fill_wait
        pause = 0.01
        while loop.time() < deadline:
            await asyncio.sleep(pause)
            pause = min(0.1, pause * 1.5)
            stored, locked = await self.remote.peek(entry.key)
            value = self._open(entry, stored)
            if value is not None:
                await self.local.set(entry.key, value, self.ttl, entry.tags)
                self._observe("redis")
                return value
            if not locked:
                return None  # fetched but not kept, failed, or Redis is away
        return None

    async def invalidate(self, tags: list[str], *, gone: bool = False) -> None:
        """Evict every entry of `tags` on every replica; `gone`: they were deleted, so
        an answer fetched before and stored after is refused too."""
        gone_for = self.ttl if gone else None
        self.local.invalidate(tags, gone_for=gone_for)
        if self.remote is None:
            return
        if self._pending or self._sending.locked():
            # Older ones wait to be sent: this one goes after them.
            self._pending.append((tuple(tags), gone_for))
            await self._send_pending()
        elif not await self.remote.invalidate(tags, gone_for=gone_for):
            self._pending.append((tuple(tags), gone_for))

    # -- every replica hears of invalidations ---------------------------------

    async def start(self) -> None:
        """Listen for other replicas' invalidations (with Redis; nothing to do without)."""
        if self.remote is not None and self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self) -> None:
        assert self.remote is not None
        remote = self.remote
        missed = False
        while True:
            pubsub = remote.shared.pubsub()
            try:
                await pubsub.subscribe(remote.channel)
                if missed:
                    # What was said while we could not hear it is lost.
                    await self._recovered()
                    missed = False
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._heard(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: listen again when it is back
                missed = True
                await asyncio.sleep(remote.shared.retry_interval)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _heard(self, data: Any) -> None:
        try:
            message = json.loads(data)
            tags = [str(tag) for tag in message["tags"]]
            gone_for = message.get("gone_for")
        except (TypeError, ValueError, KeyError):
            logger.warning(
                "an invalidation message was not understood; the process layer is emptied"
            )
            self.local.clear()
            return
        self.heard += 1
        self.local.invalidate(tags, gone_for=float(gone_for) if gone_for else None)

    async def _recovered(self) -> None:
        """Redis is back: drop what may be stale here, send what could not be sent."""
        self.local.clear()
        await self._send_pending()

    async def _send_pending(self) -> None:
        """Send the pending invalidations, oldest first, each once."""
        assert self.remote is not None
        async with self._sending:
            while self._pending:
                tags, gone_for = self._pending[0]
                if not await self.remote.invalidate(tags, gone_for=gone_for):
                    return  # away again; the next recovery sends the rest
                self._pending.popleft()

    @property
    def pending(self) -> int:
        """Invalidations waiting for Redis to be sent."""
        return len(self._pending)

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
        await self.stop()
