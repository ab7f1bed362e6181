"""A Redis lock with an owner token (the single-instance algorithm of redis.io's distributed
locks page): SET key token NX PX; release and extend only while the key still holds our token,
checked atomically by a script. Without a timeout the lock never expires: only its owner or
an operator frees it."""
import time
import uuid

from django_puff.redis.exceptions import LockError, LockNotOwnedError

# Delete / re-arm the key only while it still holds our token.
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")
_EXTEND = ("if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end "
           "local ttl = redis.call('pttl', KEYS[1]) "
           "if ttl < 0 then return 0 end "
           "redis.call('pexpire', KEYS[1], ttl + tonumber(ARGV[2])) return 1")


def _sleep(seconds):
    try:
        import puff  # the hub's timer inside puff: other greenlets run meanwhile
    except ImportError:
        time.sleep(seconds)
    else:
        puff.sleep(seconds)


class Lock:
    def __init__(self, client, name, timeout=None, sleep=0.1, blocking=True,
                 blocking_timeout=None):
        if timeout is not None and not timeout > 0:
            raise ValueError("lock timeout must be None or a positive number of seconds")
        if not sleep > 0:
            raise ValueError("lock sleep must be a positive number of seconds")
        self.client = client
        self.name = name
        self.timeout = timeout
        self.sleep = sleep
        self.blocking = blocking
        self.blocking_timeout = blocking_timeout
        self.token = None

    def __repr__(self):
        return "<Lock %r owned=%s>" % (self.name, self.token is not None)

    def acquire(self, blocking=None, blocking_timeout=None, token=None):
        """True once the lock is ours; False when not blocking or blocking_timeout passed."""
        blocking = self.blocking if blocking is None else blocking
        blocking_timeout = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        token = token if token is not None else uuid.uuid4().hex.encode()
        deadline = None if blocking_timeout is None else time.monotonic() + blocking_timeout
        px = None if self.timeout is None else max(1, int(self.timeout * 1000))
        while True:
            if self.client.set(self.name, token, px=px, nx=True):
                self.token = token
                return True
            if not blocking:
                return False
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                _sleep(min(self.sleep, left))
            else:
                _sleep(self.sleep)

    def locked(self):
        return bool(self.client.exists(self.name))

    def owned(self):
        return self.token is not None and self.client.get(self.name) == self.token

    def release(self):
        if self.token is None:
            raise LockError("cannot release a lock that was not acquired")
        token, self.token = self.token, None
        if not self.client.eval(_RELEASE, 1, self.name, token):
            raise LockNotOwnedError("lock %r is no longer ours (it expired or was taken)"
                                    % (self.name,))

    def extend(self, additional_time):
        if self.token is None:
            raise LockError("cannot extend a lock that was not acquired")
        if self.timeout is None:
            raise LockError("cannot extend a lock without a timeout")
        if not self.client.eval(_EXTEND, 1, self.name, self.token,
                                max(1, int(additional_time * 1000))):
            raise LockNotOwnedError("lock %r is no longer ours (it expired or was taken)"
                                    % (self.name,))
        return True

    def __enter__(self):
        if self.acquire():
            return self
        raise LockError("could not acquire lock %r within %s s" % (self.name,
                                                                   self.blocking_timeout))

    def __exit__(self, exc_type, exc, tb):
        self.release()
