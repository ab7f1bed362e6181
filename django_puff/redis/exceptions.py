"""The client's exceptions. The transport ones come from the native module (raised there);
DataError, WatchError and the lock errors are raised by the Python layer."""
from django_puff._redis import ConnectionError, RedisError, ResponseError, TimeoutError

__all__ = ["RedisError", "ConnectionError", "TimeoutError", "ResponseError", "DataError",
           "WatchError", "LockError", "LockNotOwnedError"]


class DataError(RedisError, ValueError):
    """An argument the command cannot take (checked before anything is sent)."""


class WatchError(RedisError):
    """A WATCHed key changed before EXEC: the transaction did not run."""


class LockError(RedisError):
    """A lock could not be acquired in time, or was used wrongly."""


class LockNotOwnedError(LockError):
    """release()/extend() of a lock this owner no longer holds (it expired or was taken)."""
