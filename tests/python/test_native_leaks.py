"""Reference-leak checks of the native entry points (python/kit: one boundary, one way to own
state): each runs 10,000 times, under `puff python` (greenlet waits on the hub) and, for the
drivers, under plain python (blocking waits); afterwards the interpreter's allocated blocks and
the live instances of every native type must be back where they started, within a small bound.
The checker is shown to fail on a reference leaked on purpose (puff._debug_leak), and a C++
exception escaping a native method (puff._debug_throw_cpp) is a SystemError, not a crash."""
import json
import os

import pytest

from http_support import RunningServer

PG_URL = os.environ.get("TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
ROUNDS = 10_000
BLOCKS_BOUND = 2_000  # one leaked object per round would be >= ROUNDS

LEAK_CHECK = r'''
import gc, io, json, os, sys

def live_objects():
    counts = {}
    for name in ("puff", "psycopg2._psycopg", "django_puff._redis", "_puff_wsgi"):
        try:
            module = __import__(name, fromlist=["_live_objects"])
        except ImportError:
            continue
        for key, value in module._live_objects().items():
            counts[key] = value  # one registry inside puff, one per extension outside
    return counts

def measure(fn, rounds):
    for _ in range(rounds // 10):  # warm caches, free lists, interned names
        fn()
    gc.collect()
    blocks, live = sys.getallocatedblocks(), live_objects()
    for _ in range(rounds):
        fn()
    gc.collect()
    after = live_objects()
    return {"blocks": sys.getallocatedblocks() - blocks,
            "live": {k: after.get(k, 0) - live.get(k, 0) for k in set(after) | set(live)
                     if after.get(k, 0) != live.get(k, 0)}}

def entry_points():
    import psycopg2
    conn = psycopg2.connect(os.environ["TEST_POSTGRES_URL"])
    conn.autocommit = True
    cur = conn.cursor()
    def query():
        cur.execute("SELECT %s, %s", (1, "x"))
        cur.fetchone()
    def fetch():
        cur.execute("SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 20) g")
        cur.fetchall()
    def copy():
        cur.copy_expert("COPY (SELECT g FROM generate_series(1, 5) g) TO STDOUT", io.BytesIO())
    def failing_query():
        try:
            cur.execute("SELECT 1/0")
        except psycopg2.errors.DivisionByZero:
            pass
    from django_puff import redis as redis_client
    r = redis_client.from_url(os.environ["TEST_REDIS_URL"])
    def redis_command():
        r.set("leak-key", "value")
        r.get("leak-key")
    def redis_pipeline():
        with r.pipeline() as p:
            p.set("leak-a", 1).incr("leak-a").get("leak-a")
            p.execute()
    def redis_error_reply():
        try:
            r.execute_command("LPUSH", "leak-key", "x")  # WRONGTYPE
        except redis_client.ResponseError:
            pass
    points = {"query": query, "fetch": fetch, "copy": copy, "failing query": failing_query,
              "redis command": redis_command, "redis pipeline": redis_pipeline,
              "redis error reply": redis_error_reply}
    try:
        import puff
    except ImportError:
        return points
    if puff.is_hub():
        points["spawn/join"] = lambda: puff.spawn(lambda: 1).join()
        points["blocking call"] = lambda: puff.run_blocking(len, "abc")
        points["sleep(0)"] = lambda: puff.sleep(0)
    return points

def main(rounds=int(os.environ.get("ROUNDS", "10000"))):
    results = {name: measure(fn, rounds) for name, fn in entry_points().items()}
    print(json.dumps(results))

def deliberate():
    """The checker on code that leaks on purpose: one object and one PGResult per round."""
    import puff, psycopg2
    conn = psycopg2.connect(os.environ["TEST_POSTGRES_URL"])
    conn.autocommit = True
    native = conn._pq
    results = {"object": measure(lambda: puff._debug_leak(object()), 10000),
               "PGResult": measure(lambda: puff._debug_leak(native.execute(b"SELECT 1")), 10000)}
    print(json.dumps(results))

def boundary():
    """A C++ exception escaping a native method is a SystemError; the process goes on."""
    import puff, psycopg2
    try:
        puff._debug_throw_cpp("boom from the test")
    except SystemError as error:
        caught = str(error)
    conn = psycopg2.connect(os.environ["TEST_POSTGRES_URL"])
    cur = conn.cursor()
    cur.execute("SELECT 42")
    print(json.dumps({"caught": caught, "after": cur.fetchone()[0]}))
'''

pytestmark = pytest.mark.skipif(not (PG_URL and REDIS_URL),
                                reason="TEST_POSTGRES_URL / TEST_REDIS_URL not set (scripts/test)")


def leaks(results):
    """The entry points whose checks found a leak, with what was found."""
    return {name: found for name, found in results.items()
            if found["blocks"] >= BLOCKS_BOUND or found["live"]}


def run_check(project, function, plain_python=False):
    project.write("leakcheck.py", LEAK_CHECK)
    env = {"TEST_POSTGRES_URL": PG_URL, "TEST_REDIS_URL": REDIS_URL, "ROUNDS": str(ROUNDS)}
    if plain_python:
        import subprocess
        import sys
        done = subprocess.run([sys.executable, "-c", f"import leakcheck; leakcheck.{function}()"],
                              cwd=project.path, env=project.env(env), capture_output=True,
                              text=True, timeout=600)
    else:
        done = project.run("python", f"leakcheck:{function}", env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_native_entry_points_do_not_leak_on_the_hub(project):
    results = run_check(project, "main")
    assert {"query", "copy", "redis pipeline", "spawn/join", "blocking call"} <= set(results)
    assert not leaks(results), results


def test_native_entry_points_do_not_leak_in_plain_python(project):
    results = run_check(project, "main", plain_python=True)
    assert "spawn/join" not in results and "query" in results
    assert not leaks(results), results


def test_the_leak_check_fails_on_a_deliberately_leaked_reference(project):
    results = run_check(project, "deliberate")
    found = leaks(results)
    assert set(found) == {"object", "PGResult"}, results
    assert found["object"]["blocks"] >= ROUNDS
    assert found["PGResult"]["live"] == {"psycopg2._psycopg.PGResult": ROUNDS}


def test_a_cpp_exception_escaping_a_native_method_is_a_system_error(project):
    out = run_check(project, "boundary")
    assert "std::runtime_error" in out["caught"] and "boom from the test" in out["caught"]
    assert out["after"] == 42


def test_wsgi_requests_do_not_leak(puff_bin, tmp_path):
    (tmp_path / "leakapp.py").write_text(r'''
import gc, json, sys
import _puff_wsgi, puff

def app(environ, start_response):
    if environ["PATH_INFO"] == "/measure":
        gc.collect()
        counts = dict(puff._live_objects())
        body = json.dumps({"blocks": sys.getallocatedblocks(), "live": counts}).encode()
    else:
        body = environ["wsgi.input"].read() or b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
''')
    import http.client
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "leakapp:app",
                       "--access-log", "off", cwd=tmp_path) as server:
        client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

        def request(path, body=None):
            client.request("POST" if body else "GET", path, body=body)
            response = client.getresponse()
            return response.read()

        for _ in range(ROUNDS // 10):
            request("/warm", b"x" * 100)
        before = json.loads(request("/measure"))
        for i in range(ROUNDS):
            request("/echo", b"x" * (i % 200 + 1))
        after = json.loads(request("/measure"))
        client.close()
    assert after["blocks"] - before["blocks"] < BLOCKS_BOUND, (before, after)
    changed = {k: after["live"].get(k, 0) - v for k, v in before["live"].items()
               if after["live"].get(k, 0) != v}
    assert not changed, (before, after)
