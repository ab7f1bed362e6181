"""Workloads of `scripts/bench cache`, run in a fresh process per sample by cache_bench.py:

    python cache_workloads.py CASE BACKEND URL N          (plain python, or gevent for peers)
    puff python cache_workloads:main CASE BACKEND URL N   (inside puff's hub)

CASE: get (Django's cache.get of a small value), client-get (the Redis client's GET), many
(256 callers, each doing get_many of 10 keys + one set, as the benchmark's cache view does).
BACKEND: puff | django-redis | django. Prints one JSON line {"ops": N, "seconds": s}."""
import json
import sys
import time

CALLERS = 256
BACKENDS = {
    "puff": {"BACKEND": "django_puff.cache.RedisCache"},
    "django-redis": {"BACKEND": "django_redis.cache.RedisCache",
                     "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}},
    "django": {"BACKEND": "django.core.cache.backends.redis.RedisCache"},
}
KEYS = [f"bench:{i}" for i in range(10)]


def setup_django(backend, url):
    import django
    from django.conf import settings
    settings.configure(CACHES={"default": {**BACKENDS[backend], "LOCATION": url}})
    django.setup()
    from django.core.cache import cache
    cache.set_many({k: {"id": i, "name": "x" * 40} for i, k in enumerate(KEYS)}, timeout=None)
    return cache


def raw_client(backend, url):
    if backend == "puff":
        from django_puff import redis
        return redis.from_url(url)
    import redis
    return redis.Redis.from_url(url)


def timed(function, n):
    function(50)  # warm-up: connections open, code paths hot
    started = time.perf_counter()
    function(n)
    return time.perf_counter() - started


def plain_get(backend, url, n):
    cache = setup_django(backend, url)

    def run(count):
        for _ in range(count):
            assert cache.get("bench:3")["id"] == 3
    return timed(run, n)


def client_get(backend, url, n):
    client = raw_client(backend, url)
    client.set("bench:raw", b"x" * 100)

    def run(count):
        for _ in range(count):
            assert len(client.get("bench:raw")) == 100
    return timed(run, n)


def many(backend, url, n, spawn, join):
    cache = setup_django(backend, url)
    per_caller = max(1, n // CALLERS)

    def caller(index, iterations):
        for i in range(iterations):
            got = cache.get_many(KEYS)
            assert len(got) == 10
            cache.set(f"bench:w{index}", i, timeout=60)

    def run(count):
        if count < CALLERS:  # the warm-up: one caller
            join([spawn(caller, 0, count)])
        else:
            join([spawn(caller, i, count // CALLERS) for i in range(CALLERS)])
    return timed(run, per_caller * CALLERS)


def run_case(case, backend, url, n):
    if case == "get":
        return plain_get(backend, url, n)
    if case == "client-get":
        return client_get(backend, url, n)
    if case == "many":
        if backend == "puff":
            import puff
            return many(backend, url, n, puff.spawn, puff.join_all)
        import gevent  # monkey-patched in __main__ before anything imported socket
        return many(backend, url, n, gevent.spawn, gevent.joinall)
    raise SystemExit(f"unknown case {case!r}")


def main(argv=None):
    case, backend, url, n = (argv or sys.argv[1:])
    seconds = run_case(case, backend, url, int(n))
    print(json.dumps({"ops": int(n) if case != "many" else (int(n) // CALLERS) * CALLERS,
                      "seconds": seconds}))


if __name__ == "__main__":
    if sys.argv[1] == "many":
        from gevent import monkey
        monkey.patch_all()
    main()
