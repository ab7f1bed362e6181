"""django_puff.cache.RedisCache beyond Django's own contract (tests/compat/django_cache_suite.py
runs that): the django-redis style extras, one round trip per get_many/set_many/delete_many,
IGNORE_EXCEPTIONS, configuration errors, and the POOL option under puff with puff.toml."""
import json
import logging
import time

import django
import pytest
from django.conf import settings

from redis_support import OwnRedis, free_port, shared_redis_url

if not settings.configured:
    settings.configure(USE_TZ=True)
    django.setup()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from django_puff import redis as puff_redis  # noqa: E402
from django_puff.cache import RedisCache  # noqa: E402

DB = 6


@pytest.fixture(scope="module")
def redis_url():
    return shared_redis_url(DB)


def make_cache(location, **options):
    return RedisCache(location, {"OPTIONS": options, "KEY_PREFIX": "t"})


@pytest.fixture
def cache(redis_url):
    c = make_cache(redis_url)
    c.clear()
    return c


def round_trip(cache, action):
    """(commands, socket writes) the action cost on the cache's pool."""
    before = cache.client.stats()
    action()
    after = cache.client.stats()
    return (after["commands_total"] - before["commands_total"],
            after["writes_total"] - before["writes_total"])


def test_many_operations_take_one_round_trip(cache):
    data = {f"k{i}": {"n": i} for i in range(10)}
    commands, writes = round_trip(cache, lambda: cache.set_many(data, timeout=60))
    assert writes == 1 and commands == 10 + 3  # MULTI, MSET, 10 x EXPIRE, EXEC
    got = {}
    commands, writes = round_trip(cache, lambda: got.update(cache.get_many(list(data) + ["x"])))
    assert (commands, writes) == (1, 1) and got == data
    commands, writes = round_trip(cache, lambda: cache.delete_many(list(data)))
    assert (commands, writes) == (1, 1) and cache.get_many(list(data)) == {}


def test_values_round_trip_and_ints_are_raw(cache):
    cache.set("i", 41)
    assert cache.client.get(cache.make_key("i")) == b"41"  # so INCR works on it
    assert cache.incr("i") == 42 and cache.decr("i", 2) == 40
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")
    for value in ["str", b"bytes", 1.5, True, None, [1, {"a": (2, 3)}], 10**30]:
        cache.set("v", value)
        assert cache.get("v", default="DEFAULT") == value


def test_ttl_expire_persist_and_timeouts(cache):
    cache.set("k", 1, timeout=100)
    assert 98 <= cache.ttl("k") <= 100 and cache.pttl("k") > 97_000
    assert cache.persist("k") is True and cache.ttl("k") is None
    assert cache.expire("k", 5) is True and 0 < cache.ttl("k") <= 5
    assert cache.ttl("missing") == 0 and cache.expire("missing", 5) is False
    cache.set("forever", 1, timeout=None)
    assert cache.ttl("forever") is None
    cache.set("gone", 1, timeout=0)
    assert cache.has_key("gone") is False
    assert cache.touch("forever", 10) is True and 0 < cache.ttl("forever") <= 10


def test_set_nx_xx_and_add(cache):
    assert cache.set("k", 1, nx=True) is True
    assert cache.set("k", 2, nx=True) is False and cache.get("k") == 1
    assert cache.set("k", 3, xx=True) is True and cache.get("k") == 3
    assert cache.set("absent", 1, xx=True) is False and not cache.has_key("absent")
    assert cache.set("k", 4) is None  # plain set returns None, as Django's
    assert cache.add("k", 5) is False and cache.add("new", 5) is True and cache.get("new") == 5
    assert cache.add("zero", 1, timeout=0) is True and not cache.has_key("zero")


def test_iter_keys_and_delete_pattern(cache):
    for i in range(1200):
        cache.set(f"user:{i}", i)
    cache.set("other", 1)
    cache.set("user:v2", 1, version=2)
    assert len(cache.keys("user:*")) == 1200
    assert set(cache.iter_keys("user:1??")) == {f"user:{i}" for i in range(100, 200)}
    assert cache.delete_pattern("user:*", itersize=300) == 1200
    assert cache.get("other") == 1 and cache.get("user:v2", version=2) == 1


def test_lock_uses_the_cache_key(cache):
    lock = cache.lock("job", timeout=5)
    with lock:
        assert cache.client.exists(cache.make_key("job")) == 1
        assert cache.lock("job").acquire(blocking=False) is False
    assert cache.client.exists(cache.make_key("job")) == 0


def test_compression_and_serializer_options(redis_url):
    compressed = make_cache(redis_url, COMPRESS_MIN_LEN=100)
    compressed.clear()
    big = "x" * 10_000
    compressed.set("big", big)
    stored = compressed.client.get(compressed.make_key("big"))
    assert len(stored) < 500 and compressed.get("big") == big
    compressed.set("small", "y")
    assert compressed.get("small") == "y"
    as_json = make_cache(redis_url, SERIALIZER="django.core.signing.JSONSerializer")
    as_json.set("j", {"a": 1})
    assert as_json.client.get(as_json.make_key("j")) == b'{"a":1}'
    assert as_json.get("j") == {"a": 1}


def test_ignore_exceptions_behaves_as_a_miss_and_logs_once(tmp_path, caplog):
    server = OwnRedis(tmp_path / "down")
    try:
        c = make_cache(server.url, IGNORE_EXCEPTIONS=True, CONNECT_TIMEOUT=1)
        c.set("k", 1)
        assert c.get("k") == 1
        server.stop()
        with caplog.at_level(logging.WARNING, logger="django_puff.cache"):
            started = time.monotonic()
            assert c.get("k", default="miss") == "miss"
            assert c.get_many(["k"]) == {} and c.add("a", 1) is False
            assert c.set("k", 2) is None and c.delete("k") is False
            assert c.ttl("k") is None and c.has_key("k") is False
            assert time.monotonic() - started < 5
        warnings = [r for r in caplog.records if r.name == "django_puff.cache"]
        assert len(warnings) == 1 and "IGNORE_EXCEPTIONS" in warnings[0].getMessage()
        raising = make_cache(server.url, CONNECT_TIMEOUT=1)
        with pytest.raises(puff_redis.ConnectionError, match=str(server.port)):
            raising.get("k")
    finally:
        server.stop()


def test_configuration_errors(redis_url):
    with pytest.raises(ImproperlyConfigured, match="unknown OPTIONS SERIALISER"):
        make_cache(redis_url, SERIALISER="x")
    with pytest.raises(ImproperlyConfigured, match="one URL is supported"):
        make_cache(f"{redis_url};{redis_url}")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        make_cache(redis_url, POOL="default")
    with pytest.raises(ImproperlyConfigured, match="COMPRESS_MIN_LEN"):
        make_cache(redis_url, COMPRESS_MIN_LEN="big")
    with pytest.raises(ImproperlyConfigured, match="dumps"):
        make_cache(redis_url, SERIALIZER=object())
    unreachable = make_cache(f"redis://127.0.0.1:{free_port()}/0", CONNECT_TIMEOUT=1)
    with pytest.raises(puff_redis.ConnectionError, match="refused"):
        unreachable.get("k")


DJANGO_VIEW_MODULE = """
import json, os
import django
from django.conf import settings

def main():
    settings.configure(USE_TZ=True, CACHES={"default": {
        "BACKEND": "django_puff.cache.RedisCache", "OPTIONS": {"POOL": "sessions"}}},
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        INSTALLED_APPS=["django.contrib.sessions"])
    django.setup()
    import puff
    from django.core.cache import cache
    from django.contrib.sessions.backends.cache import SessionStore
    cache.clear()
    def one(i):
        cache.set_many({f"a{i}": i, f"b{i}": -i}, timeout=30)
        return cache.get_many([f"a{i}", f"b{i}"]) == {f"a{i}": i, f"b{i}": -i}
    ok = all(puff.join_all([puff.spawn(one, i) for i in range(200)]))
    session = SessionStore()
    session["user"] = 7
    session.save()
    loaded = SessionStore(session_key=session.session_key)
    print(json.dumps({"ok": ok, "session": loaded["user"],
                      "pool": cache.client.pool.name, "where": cache.client.pool.where}))
"""


def test_pool_option_under_puff_with_sessions(project, redis_url):
    project.write("cache_app.py", DJANGO_VIEW_MODULE)
    project.write("puff.toml", f"""
        [[redis]]
        name = "sessions"
        url = "{redis_url}"
    """)
    done = project.run("python", "cache_app:main", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    assert out == {"ok": True, "session": 7, "pool": "sessions", "where": f"127.0.0.1:{port}"}
