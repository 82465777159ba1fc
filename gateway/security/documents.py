"""Where persisted queries are kept: bounded in bytes, apart from the upstream cache.

Any client may register a document (that is what APQ is), so the store is
sized for abuse: a flood of large documents must neither grow the process nor
push cached upstream data out. Hence its own store, never the shared cache,
with two bounds: each document at most `max_document_bytes` (checked by
`PersistedQueries` before anything is stored) and all of them together at most
`max_bytes`, the least recently used going first.

- In-process (`DocumentLRU`): an LRU of UTF-8 bytes; every entry also counts a
  fixed overhead, so a flood of tiny documents is bounded too.
- With Redis (`RedisDocuments`): one hash of documents, a sorted set of when
  each was last used and a byte counter, under their own prefix; a Lua script
  adds a document and evicts the least recently used past `max_bytes`, in one
  atomic step for every replica. The keys carry a TTL, renewed on each
  registration, so an abandoned namespace disappears. `DocumentStore` keeps an
  in-process LRU in front, so a hot document costs no Redis round trip, and
  carries on with it alone while Redis is unreachable (APQ clients then send
  the text again, as after any miss).

A document is kept under the sha256 of its text, and whatever is read back is
checked against that hash before use (`matches`): a document planted in Redis
under another's hash (by anyone who can write there) is never run. It reads
as not found, is logged by its hash alone (never its text), and is taken out
of Redis, so the client's registration that follows keeps the real text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import TYPE_CHECKING

from cachetools import LRUCache
from redis.exceptions import RedisError

if TYPE_CHECKING:
    import redis.asyncio as redis

logger = logging.getLogger("gateway.security")

#: What an entry costs beyond its document: its key, the bytes object, the LRU's node.
ENTRY_OVERHEAD = 256
#: How long an unused Redis namespace lives; each registration renews it.
REDIS_TTL = 7 * 24 * 3600.0


class DocumentLRU:
    """Documents by hash in this process, at most `max_bytes` together."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: LRUCache[str, bytes] = LRUCache(maxsize=max_bytes, getsizeof=_size)

    @property
    def nbytes(self) -> int:
        """What the documents held take together, overhead included."""
        return int(self._entries.currsize)

    def get(self, digest: str) -> str | None:
        data = self._entries.get(digest)
        return data.decode() if data is not None else None

    def put(self, digest: str, document: str) -> None:
        if digest in self._entries:
            self._entries[digest]  # reading it makes it the most recently used
            return
        try:
            self._entries[digest] = document.encode()
        except ValueError:
            pass  # larger than the whole store: never kept

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


def _size(data: bytes) -> int:
    return len(data) + ENTRY_OVERHEAD


def sha256(text: str) -> str:
    """The hash a document is persisted under: hex sha256 of its UTF-8 text."""
    return hashlib.sha256(text.encode()).hexdigest()


def matches(digest: str, document: str, *, where: str) -> bool:
    """Whether `document` is the one `digest` names; a mismatch is logged, by the hash
    and `where` it was kept, never the text."""
    if hmac.compare_digest(sha256(document).encode(), digest.encode()):
        return True
    logger.warning(
        "persisted queries: the document kept in %s under %s… does not match its hash; "
        "it is treated as not found",
        where,
        digest[:12],
    )
    return False


# KEYS: the documents hash, the last-used sorted set, the byte counter.
# ARGV: digest, document, max bytes, TTL (ms), now, per-entry overhead.
_PUT = """
local docs, used, counter = KEYS[1], KEYS[2], KEYS[3]
local digest, document = ARGV[1], ARGV[2]
local max_bytes, ttl, now, overhead =
  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local total = tonumber(redis.call('GET', counter))
if total == nil then
  -- The counter expired or was evicted: count what is there.
  total = 0
  for _, stored in ipairs(redis.call('HVALS', docs)) do
    total = total + string.len(stored) + overhead
  end
end
if redis.call('HSETNX', docs, digest, document) == 1 then
  total = total + string.len(document) + overhead
end
redis.call('ZADD', used, now, digest)
while total > max_bytes do
  local oldest = redis.call('ZPOPMIN', used)
  if #oldest == 0 then
    -- Documents nobody indexes any more (keys lost to Redis eviction): start over.
    redis.call('DEL', docs)
    total = 0
    break
  end
  local size = redis.call('HSTRLEN', docs, oldest[1])
  if redis.call('HDEL', docs, oldest[1]) == 1 then
    total = total - size - overhead
  end
end
redis.call('SET', counter, total, 'PX', ttl)
redis.call('PEXPIRE', docs, ttl)
redis.call('PEXPIRE', used, ttl)
return total
"""

# KEYS: as for _PUT. ARGV: digest, the document found there, per-entry overhead.
# Takes out a document that does not match its hash, unless it changed meanwhile.
_DROP = """
local docs, used, counter = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', docs, ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', docs, ARGV[1])
redis.call('ZREM', used, ARGV[1])
if redis.call('EXISTS', counter) == 1 then
  redis.call('DECRBY', counter, string.len(ARGV[2]) + tonumber(ARGV[3]))
end
return 1
"""


class RedisDocuments:
    """Documents by hash in Redis, shared by every replica, at most `max_bytes` together."""

    def __init__(self, url: str, *, prefix: str, max_bytes: int, ttl: float = REDIS_TTL) -> None:
        import redis.asyncio as redis  # imported here: only this backend needs it

        self._redis: redis.Redis = redis.Redis.from_url(url)
        self.prefix, self.max_bytes, self.ttl = prefix, max_bytes, ttl
        self.keys = [f"{prefix}documents", f"{prefix}used", f"{prefix}bytes"]
        self._put = self._redis.register_script(_PUT)
        self._drop = self._redis.register_script(_DROP)

    async def get(self, digest: str) -> str | None:
        """The document kept under `digest`, if it is the one the hash names."""
        documents, used, _ = self.keys
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(documents, digest)
            pipe.zadd(used, {digest: time.time()}, xx=True)  # touch it, if it is there
            data, _ = await pipe.execute()
        if data is None:
            return None
        document = bytes(data).decode(errors="replace")
        if not matches(digest, document, where="Redis"):
            await self._drop(keys=self.keys, args=[digest, bytes(data), ENTRY_OVERHEAD])
            return None
        return document

    async def put(self, digest: str, document: str) -> None:
        ttl_ms = max(1, int(self.ttl * 1000))
        args: list[str | int | float] = [digest, document, self.max_bytes, ttl_ms]
        args += [time.time(), ENTRY_OVERHEAD]
        await self._put(keys=self.keys, args=args)

    async def nbytes(self) -> int:
        """What the namespace holds, as counted against `max_bytes`."""
        value = await self._redis.get(self.keys[2])
        return int(value) if value is not None else 0

    async def aclose(self) -> None:
        await self._redis.aclose()


class DocumentStore:
    """Persisted documents: an in-process LRU, in front of Redis when there is one."""

    def __init__(self, max_bytes: int, redis: RedisDocuments | None = None) -> None:
        self.memory = DocumentLRU(max_bytes)
        self.redis = redis

    async def get(self, digest: str) -> str | None:
        """The document kept under `digest`; Redis's is checked against the hash
        (`RedisDocuments.get`) before this process keeps it."""
        document = self.memory.get(digest)
        if document is None and self.redis is not None:
            try:
                document = await self.redis.get(digest)
            except RedisError as error:
                _unreachable(error)
                return None
            if document is not None:
                self.memory.put(digest, document)
        return document

    async def put(self, digest: str, document: str) -> None:
        self.memory.put(digest, document)
        if self.redis is not None:
            try:
                await self.redis.put(digest, document)
            except RedisError as error:
                _unreachable(error)

    async def aclose(self) -> None:
        self.memory.clear()
        if self.redis is not None:
            await self.redis.aclose()


def _unreachable(error: RedisError) -> None:
    logger.warning(
        "persisted queries: Redis failed (%s); this process's LRU only", type(error).__name__
    )
