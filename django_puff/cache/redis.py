"""django_puff.cache.RedisCache: Django's RedisCache semantics on puff's native Redis pools,
plus what django-redis users reach for (ttl, expire, persist, set(nx=True), lock,
delete_pattern, iter_keys) and get_many/set_many/delete_many in one round trip each.

    CACHES = {"default": {"BACKEND": "django_puff.cache.RedisCache",
                          "LOCATION": "redis://127.0.0.1:6379/1"}}          # a URL, or
    CACHES = {"default": {"BACKEND": "django_puff.cache.RedisCache",
                          "OPTIONS": {"POOL": "default"}}}                   # puff.toml's [[redis]]

OPTIONS: POOL, SERIALIZER (dotted path/class/instance with dumps and loads; default: Django's
RedisCache format), COMPRESS_MIN_LEN (zlib above this many bytes), IGNORE_EXCEPTIONS (Redis
down behaves as a miss, logged once per IGNORED_EXCEPTIONS_LOG_INTERVAL seconds, default 60),
POOL_SIZE, CONNECT_TIMEOUT, COMMAND_TIMEOUT (with a LOCATION URL)."""
import functools
import logging
import re
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT, MEMCACHE_MAX_KEY_LENGTH, BaseCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import cached_property

from django_puff import redis as puff_redis
from django_puff.cache.serializer import Codec, make_serializer

logger = logging.getLogger("django_puff.cache")

# Django's memcached_error_chars_re, compiled here: Django's is a lazy object whose every use
# raises and catches an AttributeError (a tenth of a get_many's time for 10 keys).
_MEMCACHE_ERROR_CHARS = re.compile(r"[\x00-\x20\x7f]")
_OPTIONS = {"POOL", "SERIALIZER", "COMPRESS_MIN_LEN", "IGNORE_EXCEPTIONS",
            "IGNORED_EXCEPTIONS_LOG_INTERVAL", "POOL_SIZE", "CONNECT_TIMEOUT", "COMMAND_TIMEOUT"}
# INCRBY only an existing key, in one round trip and atomically (Django's RedisCache checks
# EXISTS first, in a separate round trip).
_INCR_EXISTING = ("if redis.call('exists', KEYS[1]) == 0 then return false end "
                  "return redis.call('incrby', KEYS[1], ARGV[1])")


def _omit_when_down(on_failure):
    """With IGNORE_EXCEPTIONS, a connection failure or timeout returns on_failure(self, ...)
    instead of raising (a server error reply still raises: it is a bug, not an outage)."""
    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            if not self._ignore_exceptions:
                return method(self, *args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except (puff_redis.ConnectionError, puff_redis.TimeoutError) as error:
                self._log_ignored(method.__name__, error)
                return on_failure(self, *args, **kwargs)
        return run
    return wrap


def _default_arg(self, key, default=None, version=None):
    return default


class RedisCache(BaseCache):
    def __init__(self, server, params):
        super().__init__(params)
        options = dict(params.get("OPTIONS") or {})
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ImproperlyConfigured(
                "django_puff.cache.RedisCache: unknown OPTIONS %s; known: %s"
                % (", ".join(sorted(unknown)), ", ".join(sorted(_OPTIONS))))
        servers = [s for s in re.split("[;,]", server) if s] if isinstance(server, str) \
            else list(server or [])
        if len(servers) > 1:
            raise ImproperlyConfigured(
                "django_puff.cache.RedisCache: LOCATION names %d servers; one URL is "
                "supported (replica reads are not)" % len(servers))
        self._url = servers[0] if servers else None
        self._pool_name = options.get("POOL")
        if self._url and self._pool_name:
            raise ImproperlyConfigured("django_puff.cache.RedisCache: give LOCATION or "
                                       "OPTIONS['POOL'], not both")
        compress_min_len = options.get("COMPRESS_MIN_LEN")
        if compress_min_len is not None and (not isinstance(compress_min_len, int) or
                                             compress_min_len < 0):
            raise ImproperlyConfigured("OPTIONS['COMPRESS_MIN_LEN'] must be an int >= 0")
        self._codec = Codec(make_serializer(options.get("SERIALIZER")), compress_min_len)
        self._ignore_exceptions = bool(options.get("IGNORE_EXCEPTIONS", False))
        self._log_interval = float(options.get("IGNORED_EXCEPTIONS_LOG_INTERVAL", 60))
        self._last_logged = None
        self._pool_options = {k: options[o] for k, o in (("pool_size", "POOL_SIZE"),
                                                         ("connect_timeout", "CONNECT_TIMEOUT"),
                                                         ("command_timeout", "COMMAND_TIMEOUT"))
                              if o in options}

    @cached_property
    def client(self):
        """The django_puff.redis client (made on first use, not at settings import)."""
        if self._url:
            return puff_redis.from_url(self._url, name=self._url_pool_name(),
                                       **self._pool_options)
        if self._pool_options:
            raise ImproperlyConfigured("POOL_SIZE/CONNECT_TIMEOUT/COMMAND_TIMEOUT go with a "
                                       "LOCATION URL; a POOL takes puff.toml's settings")
        return puff_redis.client(self._pool_name or "default")

    def _url_pool_name(self):
        return "cache:%s" % (self._pool_name or "url")

    def _log_ignored(self, operation, error):
        now = time.monotonic()
        if self._last_logged is None or now - self._last_logged >= self._log_interval:
            self._last_logged = now
            logger.warning("cache %s ignored a Redis failure (IGNORE_EXCEPTIONS): %s",
                           operation, error)

    def validate_key(self, key):
        # Django's own checks (and CacheKeyWarning texts), run only when one would warn.
        if len(key) > MEMCACHE_MAX_KEY_LENGTH or _MEMCACHE_ERROR_CHARS.search(key):
            super().validate_key(key)

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        # As Django's RedisCache: None persists; whole seconds; <= 0 removes the key.
        if timeout == DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else max(0, int(timeout))

    # ---- Django's cache API ----
    @_omit_when_down(lambda self, *a, **k: False)
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:  # added and expired at once: only whether it was absent is seen
            return not self.client.exists(key)
        return bool(self.client.set(key, self._codec.dumps(value), ex=timeout, nx=True))

    @_omit_when_down(_default_arg)
    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        value = self.client.get(key)
        return default if value is None else self._codec.loads(value)

    @_omit_when_down(lambda self, *a, **k: False if (k.get("nx") or k.get("xx")) else None)
    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, nx=False, xx=False):
        """Django's set(); with nx=True (only if absent) or xx=True (only if present) it
        returns whether the value was stored."""
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            if nx or xx:
                exists = self.client.exists(key)
                if bool(exists) == bool(nx):
                    return False
            self.client.delete(key)
            return True if (nx or xx) else None
        stored = self.client.set(key, self._codec.dumps(value), ex=timeout, nx=nx, xx=xx)
        return bool(stored) if (nx or xx) else None

    @_omit_when_down(lambda self, *a, **k: False)
    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout is None:
            return bool(self.client.persist(key))
        return bool(self.client.expire(key, timeout))

    @_omit_when_down(lambda self, *a, **k: False)
    def delete(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(self.client.delete(key))

    @_omit_when_down(lambda self, *a, **k: {})
    def get_many(self, keys, version=None):
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not key_map:
            return {}
        made = list(key_map)
        values = self.client.mget(made)
        return {key_map[k]: self._codec.loads(v)
                for k, v in zip(made, values, strict=True) if v is not None}

    @_omit_when_down(lambda self, *a, **k: False)
    def has_key(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(self.client.exists(key))

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        value = self.client.eval(_INCR_EXISTING, 1, key, delta)
        if value is None:
            raise ValueError("Key '%s' not found." % key)
        return value

    @_omit_when_down(lambda self, data, *a, **k: list(data))
    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        if not data:
            return []
        safe = {self.make_and_validate_key(key, version=version): value
                for key, value in data.items()}
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            self.client.delete(*safe)
            return []
        # One round trip: MULTI, MSET, an EXPIRE per key, EXEC (Django's RedisCache sends the
        # same commands in a redis-py transaction pipeline).
        pipe = self.client.pipeline(transaction=True)
        pipe.mset({key: self._codec.dumps(value) for key, value in safe.items()})
        if timeout is not None:
            for key in safe:
                pipe.expire(key, timeout)
        pipe.execute()
        return []

    @_omit_when_down(lambda self, *a, **k: None)
    def delete_many(self, keys, version=None):
        safe = [self.make_and_validate_key(key, version=version) for key in keys]
        if safe:
            self.client.delete(*safe)

    @_omit_when_down(lambda self, *a, **k: False)
    def clear(self):
        """FLUSHDB, as Django's RedisCache: give each cache its own Redis db number."""
        return bool(self.client.flushdb())

    # ---- django-redis style extras ----
    @_omit_when_down(lambda self, *a, **k: None)
    def ttl(self, key, version=None):
        """Seconds left; None for a key without expiry; 0 for a missing key."""
        seconds = self.client.ttl(self.make_and_validate_key(key, version=version))
        return None if seconds == -1 else max(0, seconds)

    @_omit_when_down(lambda self, *a, **k: None)
    def pttl(self, key, version=None):
        milliseconds = self.client.pttl(self.make_and_validate_key(key, version=version))
        return None if milliseconds == -1 else max(0, milliseconds)

    @_omit_when_down(lambda self, *a, **k: False)
    def expire(self, key, timeout, version=None):
        return bool(self.client.expire(self.make_and_validate_key(key, version=version),
                                       int(timeout)))

    @_omit_when_down(lambda self, *a, **k: False)
    def persist(self, key, version=None):
        return bool(self.client.persist(self.make_and_validate_key(key, version=version)))

    def lock(self, key, version=None, timeout=None, sleep=0.1, blocking=True,
             blocking_timeout=None):
        """A Redis lock named by the cache key (see django_puff.redis.Lock)."""
        return self.client.lock(self.make_and_validate_key(key, version=version),
                                timeout=timeout, sleep=sleep, blocking=blocking,
                                blocking_timeout=blocking_timeout)

    def iter_keys(self, search, itersize=None, version=None):
        """The cache keys (as given to set, without prefix and version) matching the glob
        `search`, by SCAN. Needs the default KEY_FUNCTION (prefix:version:key)."""
        for made in self.client.scan_iter(match=self.make_key(search, version=version),
                                          count=itersize):
            yield made.decode().split(":", 2)[2]

    def keys(self, search, version=None):
        return list(self.iter_keys(search, version=version))

    @_omit_when_down(lambda self, *a, **k: 0)
    def delete_pattern(self, pattern, version=None, itersize=None):
        """Deletes the keys matching the glob `pattern` (SCAN + DEL in batches); the count."""
        deleted = 0
        batch = []
        for made in self.client.scan_iter(match=self.make_key(pattern, version=version),
                                          count=itersize):
            batch.append(made)
            if len(batch) >= 500:
                deleted += self.client.delete(*batch)
                batch = []
        if batch:
            deleted += self.client.delete(*batch)
        return deleted
