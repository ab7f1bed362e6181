"""puff's Redis client: `client(name)` for a [[redis]] entry of puff.toml, `from_url(url)`.

Commands of concurrent callers are pipelined on a few shared connections of a native pool;
in the puff hub a waiting greenlet lets others run. Bytes in, bytes out; a server error reply
raises ResponseError with Redis's message. Inside puff also reachable as `puff.redis`."""
from django_puff.redis.client import Client, Pipeline, client, from_url
from django_puff.redis.exceptions import (
    ConnectionError,
    DataError,
    LockError,
    LockNotOwnedError,
    RedisError,
    ResponseError,
    TimeoutError,
    WatchError,
)
from django_puff.redis.lock import Lock

__all__ = ["client", "from_url", "Client", "Pipeline", "Lock", "pool_stats", "RedisError",
           "ConnectionError", "TimeoutError", "ResponseError", "DataError", "WatchError",
           "LockError", "LockNotOwnedError"]


def pool_stats():
    """Every Redis pool of this process: size, connected, in_flight, commands_total,
    writes_total (far below commands_total when pipelining works), errors."""
    from django_puff import _redis
    return _redis.pool_stats()
