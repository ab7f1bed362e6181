"""puff's Redis client (django_puff.redis, puff.redis inside puff) against real redis-servers:
commands and replies, pipelines and transactions, locks, pipelining under the hub, faults
(restart, wrong password, unreachable), and connection counts on the server's side."""
import os
import threading
import time
from urllib.parse import urlsplit

import pytest

from django_puff import redis as puff_redis
from redis_support import (
    OwnRedis,
    info_field,
    make_certificate,
    shared_redis_url,
)

DB = 5  # this module's database on the shared test server (FLUSHDB'd per test)


@pytest.fixture(scope="module")
def redis_url():
    return shared_redis_url(DB)


@pytest.fixture
def r(redis_url):
    client = puff_redis.from_url(redis_url)
    client.flushdb()
    return client


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path / "redis")
    yield server
    server.stop()


# ---- commands -------------------------------------------------------------------------------

def test_strings_bytes_in_bytes_out(r):
    assert r.set("k", "välue") is True
    assert r.get("k") == "välue".encode()
    assert r.set("b", b"\x00\xff\r\n") and r.get("b") == b"\x00\xff\r\n"  # binary-safe
    assert r.get("missing") is None
    assert r.set("k", "x", nx=True) is None and r.get("k") == "välue".encode()
    assert r.set("new", "x", xx=True) is None and r.exists("new") == 0
    assert r.set("k", 12, xx=True) is True and r.incr("k") == 13 and r.decr("k", 3) == 10
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.mset({"a": 1, "b": 2}) is True and r.mget(["a", "b", "zz"]) == [b"1", b"2", None]
    assert r.mget("a", "b") == [b"1", b"2"]
    assert r.getset("a", 5) == b"1" and r.getdel("a") == b"5" and r.get("a") is None
    assert r.delete("b", "k", "nothing") == 2


def test_expiry_commands(r):
    r.set("k", "v", ex=100)
    assert 98 <= r.ttl("k") <= 100 and 97_000 <= r.pttl("k") <= 100_000
    assert r.persist("k") is True and r.ttl("k") == -1 and r.persist("k") is False
    assert r.expire("k", 50) is True and r.expire("nope", 5) is False
    r.set("p", "v", px=1500)
    assert 0 < r.pttl("p") <= 1500
    assert r.ttl("missing") == -2


def test_hash_list_set_zset(r):
    assert r.hset("h", mapping={"a": 1, "b": "x"}) == 2 and r.hset("h", "c", 3) == 1
    assert r.hget("h", "a") == b"1" and r.hgetall("h") == {b"a": b"1", b"b": b"x", b"c": b"3"}
    assert r.hmget("h", ["a", "zz"]) == [b"1", None] and r.hexists("h", "b") is True
    assert r.hincrby("h", "a", 5) == 6 and r.hdel("h", "b") == 1 and r.hlen("h") == 2
    assert r.rpush("l", 1, 2, 3) == 3 and r.lpush("l", 0) == 4
    assert r.lrange("l", 0, -1) == [b"0", b"1", b"2", b"3"] and r.lpop("l") == b"0"
    assert r.rpop("l") == b"3" and r.llen("l") == 2
    assert r.sadd("s", "a", "b", "a") == 2 and r.smembers("s") == {b"a", b"b"}
    assert r.sismember("s", "a") is True and r.srem("s", "a") == 1 and r.scard("s") == 1
    assert r.zadd("z", {"m1": 1, "m2": 2.5}) == 2 and r.zscore("z", "m2") == 2.5
    assert r.zrange("z", 0, -1, withscores=True) == [(b"m1", 1.0), (b"m2", 2.5)]


def test_scan_iter_eval_publish(r):
    for i in range(300):
        r.set(f"scan:{i}", i)
    r.set("other", 1)
    assert sorted(r.scan_iter(match="scan:*", count=50)) == sorted(
        f"scan:{i}".encode() for i in range(300))
    assert r.eval("return redis.call('incrby', KEYS[1], ARGV[1])", 1, "n", 7) == 7
    sha = r.script_load("return ARGV[1]")
    assert r.evalsha(sha, 0, "hi") == b"hi"
    assert r.publish("nobody-listens", "x") == 0
    assert r.execute_command("PING") == "PONG"


def test_error_replies_and_bad_arguments(r):
    r.set("s", "v")
    with pytest.raises(puff_redis.ResponseError, match="^WRONGTYPE"):
        r.lpush("s", 1)
    with pytest.raises(puff_redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCHCOMMAND")
    with pytest.raises(TypeError, match="invalid Redis argument None"):
        r.set("k", None)
    with pytest.raises(TypeError, match="invalid Redis argument True"):
        r.set("k", True)
    with pytest.raises(TypeError, match="of type dict"):
        r.set("k", {})
    with pytest.raises(puff_redis.DataError, match="nx and xx"):
        r.set("k", "v", nx=True, xx=True)
    assert r.get("s") == b"v"  # the connection stayed usable after every refusal


def test_commands_a_shared_connection_refuses(r):
    with pytest.raises(puff_redis.RedisError, match="(?i)dedicated"):
        r.execute_command("MULTI")
    with pytest.raises(puff_redis.RedisError, match="(?i)dedicated"):
        r.execute_command("BLPOP", "l", 0)
    assert r.ping() is True


# ---- pipelines and transactions -------------------------------------------------------------

def test_pipeline_is_one_round_trip(r):
    before = r.stats()
    with r.pipeline(transaction=False) as pipe:
        for i in range(50):
            pipe.set(f"p{i}", i)
        pipe.get("p7").incr("p7")
        assert len(pipe) == 52
        results = pipe.execute()
    after = r.stats()
    assert results[:50] == [True] * 50 and results[50:] == [b"7", 8]
    assert after["commands_total"] - before["commands_total"] == 52
    assert after["writes_total"] - before["writes_total"] == 1


def test_transaction_pipeline_and_errors(r):
    pipe = r.pipeline()  # MULTI/EXEC by default
    assert pipe.set("a", 1).incr("a").get("a").execute() == [True, 2, b"2"]
    r.set("s", "text")
    pipe = r.pipeline()
    pipe.set("b", 1).lpush("s", 1).set("c", 1)
    with pytest.raises(puff_redis.ResponseError, match="WRONGTYPE") as raised:
        pipe.execute()
    assert "command 2 of the pipeline: LPUSH" in str(raised.value.__notes__)
    assert r.get("b") == b"1" and r.get("c") == b"1"  # Redis runs the rest of a transaction
    pipe = r.pipeline()
    pipe.set("d", 1).lpush("s", 1)
    values = pipe.execute(raise_on_error=False)
    assert values[0] is True and isinstance(values[1], puff_redis.ResponseError)
    pipe = r.pipeline()
    pipe.execute_command("SET", "e")  # wrong arity: the server rejects it at queue time
    with pytest.raises(puff_redis.ResponseError, match="EXECABORT"):
        pipe.execute()
    assert r.exists("e") == 0


def test_watch_transaction_retries_on_conflict(r):
    r.set("counter", 0)
    attempts = []

    def bump(pipe):
        attempts.append(1)
        value = int(pipe.get("counter"))
        if len(attempts) == 1:
            r.incr("counter", 100)  # someone else writes the watched key in between
        pipe.multi()
        pipe.set("counter", value + 1)

    r.transaction(bump, "counter")
    assert len(attempts) == 2 and r.get("counter") == b"101"
    with pytest.raises(puff_redis.WatchError):
        r.transaction(lambda pipe: (r.incr("counter"), pipe.multi(), pipe.get("counter")),
                      "counter", max_attempts=1)
    assert r.stats()["dedicated_in_use"] == 0


def test_blocking_pop_on_a_dedicated_connection(r):
    assert r.blpop("empty", timeout=0.2) is None
    r.rpush("q", "job")
    assert r.brpop(["nothing", "q"], timeout=1) == (b"q", b"job")
    with pytest.raises(puff_redis.DataError):
        r.blpop("q", timeout=-1)


# ---- locks ----------------------------------------------------------------------------------

def test_lock_owner_token_timeout_and_extend(r):
    lock = r.lock("lk", timeout=0.5)
    assert lock.acquire(blocking=False) and lock.owned()
    other = r.lock("lk", timeout=5)
    assert other.acquire(blocking=False) is False
    assert other.acquire(blocking_timeout=0.2) is False
    assert lock.extend(1) is True and r.pttl("lk") > 1000
    r.set("lk", "someone-else")  # as if it expired and another owner took it
    with pytest.raises(puff_redis.LockNotOwnedError):
        lock.release()
    assert r.get("lk") == b"someone-else"  # not deleted by a non-owner
    r.delete("lk")
    with r.lock("lk", timeout=5) as held:
        assert held.locked()
    assert not r.exists("lk")
    short = r.lock("short", timeout=0.1)
    assert short.acquire()
    time.sleep(0.2)
    assert r.lock("short").acquire(blocking=False)  # expired: free for the next owner


def test_lock_excludes_under_thread_contention(r):
    r.set("shared", 0)
    errors = []

    def work():
        try:
            for _ in range(20):
                with r.lock("mutex", timeout=5, sleep=0.001, blocking_timeout=20):
                    value = int(r.get("shared"))  # read-modify-write: racy without the lock
                    r.set("shared", value + 1)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and r.get("shared") == b"160"


# ---- under the puff hub ---------------------------------------------------------------------

HUB_MODULE = """
import json, os, time
import puff

def pipelining():
    from puff import redis
    r = redis.from_url(os.environ["URL"])
    r.set("k", b"v")
    before = r.stats()
    served = os.environ["PORT"]
    tasks = [puff.spawn(r.get, "k") for _ in range(1000)]
    values = puff.join_all(tasks)
    after = r.stats()
    print(json.dumps({"values_ok": all(v == b"v" for v in values),
                      "commands": after["commands_total"] - before["commands_total"],
                      "writes": after["writes_total"] - before["writes_total"]}))

def cooperative():
    r = puff.redis.from_url(os.environ["URL"])
    start = time.monotonic()
    blocked = puff.spawn(r.blpop, "never", 1)      # parks on a dedicated connection
    counter = puff.spawn(lambda: sum(r.incr("c") for _ in range(200)))
    done_counting = counter.wait() or time.monotonic()
    counting = time.monotonic() - start
    blocked.wait()
    print(json.dumps({"counted_while_blocked": counting < 0.9, "blpop": blocked.result,
                      "elapsed": time.monotonic() - start}))

def lock_contention():
    r = puff.redis.from_url(os.environ["URL"])
    r.set("shared", 0)
    def work():
        for _ in range(10):
            with r.lock("mutex", timeout=5, sleep=0.001, blocking_timeout=30):
                value = int(r.get("shared"))
                puff.sleep(0)  # let every other greenlet try to get in here
                r.set("shared", value + 1)
    puff.join_all([puff.spawn(work) for _ in range(50)])
    print(json.dumps({"shared": int(r.get("shared"))}))

def from_config():
    r = puff.redis.client()
    r.set("configured", 1)
    print(json.dumps({"where": r.pool.where, "size": r.stats()["size"],
                      "same": puff.redis.client() is r}))
"""


def run_hub(project, function, redis_url, toml=None):
    project.write("redis_hub.py", HUB_MODULE)
    if toml:
        project.write("puff.toml", toml)
    parts = urlsplit(redis_url)
    done = project.run("python", f"redis_hub:{function}",
                       env={"URL": redis_url, "PORT": str(parts.port)}, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    import json
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_hub_pipelines_1000_greenlets(project, redis_url, r):
    port = urlsplit(redis_url).port
    processed_before = int(info_field(port, "total_commands_processed"))
    out = run_hub(project, "pipelining", redis_url)
    processed = int(info_field(port, "total_commands_processed")) - processed_before
    assert out["values_ok"] and out["commands"] == 1000
    # Fewer socket writes than commands: the hub hands what its greenlets queued to the IO
    # thread at the end of each round or every 200 us of it (core/turn_batch.h), so they share
    # writes (seen: 150-170 writes; 2-5 with both cores busy, the IO thread then lags further).
    assert out["writes"] <= 500, out
    assert processed >= 1000  # the server did see every command


def test_hub_waits_are_cooperative(project, redis_url, r):
    out = run_hub(project, "cooperative", redis_url)
    assert out["counted_while_blocked"] and out["blpop"] is None and out["elapsed"] < 5


def test_hub_lock_contention(project, redis_url, r):
    assert run_hub(project, "lock_contention", redis_url) == {"shared": 500}


def test_hub_client_from_puff_toml(project, redis_url, r):
    out = run_hub(project, "from_config", redis_url, toml=f"""
        [[redis]]
        name = "default"
        url = "{redis_url}"
        pool_size = 2
    """)
    assert out == {"where": f"127.0.0.1:{urlsplit(redis_url).port}", "size": 2, "same": True}


def test_hub_embedded_redis_not_running_is_one_clear_error(project):
    project.write("redis_hub.py", HUB_MODULE)
    done = project.run("python", "redis_hub:from_config")
    assert done.returncode == 1
    assert "uses the embedded Redis, which is not running" in done.stderr
    assert "puff services up" in done.stderr


def test_plain_python_client_by_name(monkeypatch, redis_url):
    monkeypatch.delenv("PUFF_NAMED_REDIS_URL", raising=False)
    with pytest.raises(ValueError, match="set PUFF_NAMED_REDIS_URL"):
        puff_redis.client("named")
    monkeypatch.setenv("PUFF_NAMED_REDIS_URL", redis_url)
    assert puff_redis.client("named").ping() is True


# ---- faults ---------------------------------------------------------------------------------

def test_restart_mid_run_errors_then_recovery(own_redis):
    r = puff_redis.from_url(own_redis.url, connect_timeout=1, reconnect_backoff_max=0.2)
    r.set("k", "v")
    own_redis.stop()
    with pytest.raises(puff_redis.ConnectionError, match=str(own_redis.port)):
        for _ in range(3):  # the first may already fail as lost, the next as unavailable
            r.get("k")
    own_redis.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            assert r.set("k", "back") is True
            break
        except puff_redis.ConnectionError:
            assert time.monotonic() < deadline, "no recovery within 10 s"
            time.sleep(0.1)
    assert r.get("k") == b"back"
    assert r.stats()["connections_lost_total"] >= 1


def test_wrong_password_is_one_clear_error(tmp_path):
    server = OwnRedis(tmp_path / "pw", password="right-secret")
    try:
        wrong = server.url.replace("right-secret", "wrong-secret")
        r = puff_redis.from_url(wrong, connect_timeout=2)
        started = time.monotonic()
        with pytest.raises(puff_redis.ConnectionError) as raised:
            r.get("k")
        message = str(raised.value)
        assert time.monotonic() - started < 5
        assert "WRONGPASS" in message or "invalid" in message.lower()
        assert "wrong-secret" not in message and "\n" not in message
        assert puff_redis.from_url(server.url).ping() is True
    finally:
        server.stop()


def test_unreachable_host_fails_fast(tmp_path):
    from redis_support import free_port
    r = puff_redis.from_url(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(puff_redis.ConnectionError, match="refused"):
        r.get("k")
    assert time.monotonic() - started < 3


def test_bad_pool_settings():
    with pytest.raises(ValueError, match="expected redis://"):
        puff_redis.from_url("http://localhost")
    with pytest.raises(ValueError, match="size must be at least 1"):
        puff_redis.from_url("redis://127.0.0.1:1/0", pool_size=0)
    with pytest.raises(ValueError, match="connect_timeout"):
        puff_redis.from_url("redis://127.0.0.1:1/0", connect_timeout=-1)


def test_connections_stay_bounded(own_redis):
    r = puff_redis.from_url(own_redis.url, pool_size=3)
    threads = [threading.Thread(target=lambda: [r.incr("n") for _ in range(200)])
               for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for _ in range(5):
        r.blpop("x", timeout=0.01)  # dedicated connections are reused, not piled up
    assert r.get("n") == b"3200"
    assert own_redis.clients() <= 3 + 1  # the shared connections plus one idle dedicated


# ---- TLS (rediss://) -------------------------------------------------------------------------

@pytest.fixture
def tls_redis(tmp_path):
    server = OwnRedis(tmp_path / "tls", tls=make_certificate(tmp_path / "certs", "IP:127.0.0.1"))
    yield server
    server.stop()


def test_tls_verified_with_the_servers_ca(tls_redis):
    ca = tls_redis.tls[0]
    r = puff_redis.from_url(f"{tls_redis.url}?ssl_ca_certs={ca}")
    assert r.set("k", b"over tls") is True and r.get("k") == b"over tls"
    assert r.pipeline().incr("n").incr("n").execute() == [1, 2]
    assert r.blpop("nothing", timeout=0.1) is None  # dedicated connections use TLS too
    insecure = puff_redis.from_url(f"{tls_redis.url}?ssl_cert_reqs=none")
    assert insecure.get("k") == b"over tls"


def test_tls_refuses_an_unverified_or_misnamed_server(tls_redis, tmp_path):
    # The system's CAs do not know the test certificate.
    r = puff_redis.from_url(tls_redis.url, connect_timeout=2)
    with pytest.raises(puff_redis.ConnectionError) as raised:
        r.get("k")
    message = str(raised.value)
    assert "certificate verify failed" in message and "ssl_ca_certs" in message, message
    # A certificate for another name, trusted as CA, still fails the host name check.
    other = make_certificate(tmp_path / "other", "DNS:cache.example.com")
    server = OwnRedis(tmp_path / "tls-other", tls=other)
    try:
        r = puff_redis.from_url(f"{server.url}?ssl_ca_certs={other[0]}", connect_timeout=2)
        with pytest.raises(puff_redis.ConnectionError, match="certificate verify failed"):
            r.get("k")
    finally:
        server.stop()
    missing = puff_redis.from_url(f"{tls_redis.url}?ssl_ca_certs=/nonexistent/ca.pem")
    with pytest.raises(puff_redis.ConnectionError, match="cannot load the CA certificates"):
        missing.get("k")


def test_tls_and_plain_ports_mixed_up_fail_fast(tls_redis, own_redis):
    started = time.monotonic()
    plain_to_tls = puff_redis.from_url(tls_redis.url.replace("rediss://", "redis://"),
                                       connect_timeout=2)
    with pytest.raises((puff_redis.ConnectionError, puff_redis.TimeoutError)):
        plain_to_tls.get("k")
    tls_to_plain = puff_redis.from_url(
        own_redis.url.replace("redis://", "rediss://") + "?ssl_cert_reqs=none", connect_timeout=2)
    # A plain server waits for more of the ClientHello: the handshake times out, and says so.
    with pytest.raises((puff_redis.ConnectionError, puff_redis.TimeoutError),
                       match="TLS handshake"):
        tls_to_plain.get("k")
    assert time.monotonic() - started < 8
    with pytest.raises(ValueError, match="ssl_\\* need rediss://"):
        puff_redis.from_url(own_redis.url + "?ssl_cert_reqs=none")


def test_fork_child_gets_its_own_pool(r):
    r.set("k", "parent")
    pid = os.fork()
    if pid == 0:
        try:
            ok = r.get("k") == b"parent" and r.set("k", "child") is True
        except BaseException:  # noqa: BLE001
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert r.get("k") == b"child"
