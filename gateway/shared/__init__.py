"""What the replicas share through Redis: the connection, the create window, call slots.

Each implements a protocol of `gateway.studio` (or the cache's), so the layers
below never import Redis; each falls back to the process alone while Redis is
unreachable.
"""

from gateway.shared.bucket import RedisSlidingWindow
from gateway.shared.connection import DEFAULT_PREFIX, RedisUnavailable, SharedRedis
from gateway.shared.semaphore import RedisSemaphore

__all__ = [
    "DEFAULT_PREFIX",
    "RedisSemaphore",
    "RedisSlidingWindow",
    "RedisUnavailable",
    "SharedRedis",
]
