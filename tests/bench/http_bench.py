"""`scripts/bench http`: puff runserver against gunicorn (sync, gthread, gevent + psycogreen),
granian and uWSGI on the same Django app (examples/bench), with wrk on loopback.

Every server gets the same number of worker processes (--workers, default: the core count).
A round starts each server once per settings group, runs every case against it (1 s of warm-up,
then --duration seconds of wrk), and stops it; rounds rotate the servers' order. The tables give
medians of requests/s and of p99 latency, and the errors wrk saw (non-2xx, timeouts, socket
errors). Cases: plaintext (bare WSGI, also pipelined 16 deep), json, db, queries?n=20, fortunes,
updates?n=20, io-wait (a 10 ms query) at 64/256/1024 connections, cache (the peers on
django-redis, then on Django's RedisCache; both on redis-py + hiredis), and db with Django's
default CONN_MAX_AGE=0 on the peers (what most sites run; puff pools either way)."""
import argparse
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import harness
import report
from http_servers import SERVERS, environment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APP_DIR = ROOT / "examples" / "bench"
# (case, path, connections, pipelined, peers' extra environment)
CASES = [
    ("plaintext", "/plaintext", 256, False, {}),
    ("plaintext, pipelined 16", "/plaintext", 256, True, {}),
    ("json", "/json", 256, False, {}),
    ("db", "/db", 256, False, {}),
    ("queries?n=20", "/queries?n=20", 256, False, {}),
    ("fortunes", "/fortunes", 256, False, {}),
    ("updates?n=20", "/updates?n=20", 256, False, {}),
    ("io-wait, 64 conn", "/io-wait", 64, False, {}),
    ("io-wait, 256 conn", "/io-wait", 256, False, {}),
    ("io-wait, 1024 conn", "/io-wait", 1024, False, {}),
    ("cache", "/cache", 256, False, {}),
    ("cache, peers on Django's RedisCache", "/cache", 256, False, {"BENCH_CACHE": "django"}),
    ("db, peers CONN_MAX_AGE=0", "/db", 256, False, {"BENCH_CONN_MAX_AGE": "0"}),
]
FORTUNES = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"),
    (12, "フレームワークのベンチマーク"),
]
PIPELINE_LUA = HERE / "wrk_pipeline.lua"


def prepare_data(db_url, redis_url):
    """The world and fortune tables and the cache's keys (through puff's own clients)."""
    import psycopg2
    conn = psycopg2.connect(db_url)
    cur = conn.cursor()
    harness.create_world(cur)
    cur.execute("drop table if exists fortune")
    cur.execute("create table fortune (id int primary key, message varchar(2048) not null)")
    cur.executemany("insert into fortune values (%s, %s)", FORTUNES)
    conn.commit()
    conn.close()
    import django
    from django.conf import settings
    if not settings.configured:
        settings.configure(CACHES={"default": {"BACKEND": "django_puff.cache.RedisCache",
                                               "LOCATION": redis_url}})
        django.setup()
    from django.core.cache import cache
    cache.clear()
    # Both backends store Django's RedisCache format, so one write serves every server.
    cache.set_many({f"bench:{i}": {"id": i, "name": "x" * 40} for i in range(10)}, timeout=None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, make, bin_dir, puff_bin, workers, bench_env, extra_env):
        self.name = name
        self.port = free_port()
        argv, own_env = make(bin_dir, puff_bin, self.port, workers)
        self.log = open(ROOT / "bench" / "results" / f"http-{name}.log", "a")
        # The settings group's environment (CONN_MAX_AGE=0) is for the peers: puff pools.
        env = environment({**own_env, **({} if name == "puff" else extra_env)}, bench_env)
        self.process = subprocess.Popen(argv, cwd=APP_DIR, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.argv = argv

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); see "
                                   f"{self.log.name}")
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout} s")

    def stop(self):
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def wrk(url, connections, seconds, pipelined):
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
            "--timeout", "5s"]
    if pipelined:
        argv += ["-s", str(PIPELINE_LUA)]
    out = subprocess.run(argv + [url], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    return parse_wrk(out)


def parse_wrk(out):
    """wrk's report as {rps, p50, p99 (ms), requests, errors: {connect, read, write, timeout,
    non-2xx}}."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        raise RuntimeError(f"wrk printed no rate:\n{out}")

    def latency_ms(label):
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\b", out, re.M)
        if not found:
            return None
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = dict.fromkeys(["connect", "read", "write", "timeout", "non-2xx"], 0)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    if socket_errors:
        for kind, count in zip(["connect", "read", "write", "timeout"], socket_errors.groups(),
                               strict=True):
            errors[kind] = int(count)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors["non-2xx"] = int(non2xx.group(1))
    requests = re.search(r"(\d+) requests in", out)
    return {"rps": float(rps.group(1)), "p50": latency_ms("50"), "p99": latency_ms("99"),
            "requests": int(requests.group(1)) if requests else 0, "errors": errors}


def add_server_arguments(parser):
    """--workers, --servers (puff alone by default) and --peer-python of the smaller benches."""
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--servers", nargs="+", default=["puff"], choices=list(SERVERS))
    parser.add_argument("--peer-python", default=sys.executable,
                        help="the venv of the peers (scripts/bench http makes it)")


def server_binaries(args):
    """(puff binary: PUFF_BIN or .venv's, the peers' bin directory); makes bench/results."""
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    return (os.environ.get("PUFF_BIN", str(ROOT / ".venv" / "bin" / "puff")),
            str(Path(args.peer_python).parent))


def facts(puff_bin, peer_python, workers):
    def ask(code):
        return subprocess.run([peer_python, "-c", code], capture_output=True,
                              text=True).stdout.strip()
    versions = ask("import importlib.metadata as m; print(' '.join(d + '=' + m.version(d) for d in "
                   "['Django', 'gunicorn', 'gevent', 'granian', 'uWSGI', 'psycopg2-binary', "
                   "'django-redis']))")
    return {"puff": subprocess.run([puff_bin, "--version"], capture_output=True,
                                   text=True).stdout.strip(),
            "python": platform.python_version(), "peers": versions, "workers": workers,
            "cpus": os.cpu_count(),
            "cpu model": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                               if line.startswith("model name")), "?")}


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench http")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per sample")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=list(SERVERS))
    parser.add_argument("--cases", nargs="+", help="case names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--peer-python", required=True)
    args = parser.parse_args()
    cases = [c for c in CASES if not args.cases or c[0] in args.cases]
    if not cases:
        sys.exit(f"bench: no such case; known: {', '.join(c[0] for c in CASES)}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    db_url, redis_url = os.environ["TEST_POSTGRES_URL"], os.environ["TEST_REDIS_URL"]
    puff_bin = os.environ.get("PUFF_BIN", str(ROOT / ".venv" / "bin" / "puff"))
    bin_dir = str(Path(args.peer_python).parent)
    prepare_data(db_url, redis_url)
    info = facts(puff_bin, args.peer_python, args.workers)
    print("bench http:", ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    bench_env = {"BENCH_DATABASE_URL": db_url, "BENCH_REDIS_URL": redis_url}
    groups = {}
    for case in cases:
        groups.setdefault(tuple(sorted(case[4].items())), []).append(case)

    results = {c[0]: {s: [] for s in args.servers} for c in cases}
    order = list(args.servers)
    for round_number in range(args.rounds):
        for name in order:
            for extra, group in groups.items():
                server = Server(name, SERVERS[name], bin_dir, puff_bin, args.workers, bench_env,
                                dict(extra))
                try:
                    server.wait_ready()
                    for case, path, connections, pipelined, _env in group:
                        url = f"http://127.0.0.1:{server.port}{path}"
                        wrk(url, min(connections, 64), 1, pipelined)  # warm-up
                        results[case][name].append(wrk(url, connections, args.duration,
                                                       pipelined))
                except RuntimeError as error:
                    print(f"  {name}: {error}", flush=True)
                finally:
                    server.stop()
        print(f"  round {round_number + 1}/{args.rounds} done", flush=True)
        order = order[1:] + order[:1]

    def median(case, server, key):
        values = [r[key] for r in results[case][server] if r.get(key) is not None]
        return statistics.median(values) if values else None

    peers = [s for s in args.servers if s != "puff"]
    rows, latency_rows, samples = [], [], {}
    for case, *_rest in cases:
        row = {"case": case, "unit": "req/s"}
        lat = {"case": case + " p99", "unit": "ms"}
        for server in args.servers:
            row[server] = median(case, server, "rps")
            lat[server] = median(case, server, "p99")
        best = max((row[p] for p in peers if row.get(p)), default=None)
        row["best peer"] = best
        rows.append(row)
        latency_rows.append(lat)
        samples[case] = {s: [r["rps"] for r in results[case][s]] for s in args.servers}
        samples[case + " p99"] = {s: [r["p99"] for r in results[case][s]] for s in args.servers}
    columns = args.servers + ["best peer"]
    report.print_table(rows, columns, [("puff/best peer", "puff", "best peer")])
    report.print_table(latency_rows, args.servers, [])
    print("\nerrors (sum over rounds as wrk reports them; none printed = none seen):")
    for case, *_rest in cases:
        for server in args.servers:
            total = {}
            for result in results[case][server]:
                for kind, count in result["errors"].items():
                    total[kind] = total.get(kind, 0) + count
            seen = ", ".join(f"{k} {v}" for k, v in total.items() if v)
            if seen:
                print(f"  {case:<32}{server:<18}{seen}")
    report.write_files("http", rows + latency_rows, samples, args.servers, info, args.out,
                       f"puff runserver vs WSGI peers, {args.workers} workers, "
                       f"{info['cpus']} cores")


if __name__ == "__main__":
    main()
