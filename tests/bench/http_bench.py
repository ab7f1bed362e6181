"""`scripts/bench http`: `puff runserver` against gunicorn (sync, gthread, gevent+psycogreen)
and granian, side by side on one app (http_app/: examples/hello plus /plaintext, /one/,
/io-wait/), one PostgreSQL, wrk on loopback. Rounds alternate the servers; the table shows
medians of requests per second, the CSV also p50/p99 latency and errors.

Every server gets 2 worker processes (gunicorn sync: 2*cores+1, its documented setting);
threads/greenlets per worker as each documents for IO-bound apps. The peers use Django's
postgresql backend on psycopg2 with persistent connections (CONN_MAX_AGE=600); puff uses its
engine with a pool of 40 per worker."""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# (case, path, connections)
CASES = [
    ("plaintext", "/plaintext", 64),
    ("json", "/json/", 64),
    ("db (one row)", "/one/", 64),
    ("io-wait 10 ms, c=64", "/io-wait/", 64),
    ("io-wait 10 ms, c=256", "/io-wait/", 256),
]
PEERS = ["puff", "gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent", "granian"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(peer, port, puff_bin, peer_bin):
    bind = f"127.0.0.1:{port}"
    if peer == "puff":
        return [puff_bin, "--watchdog-ms", "0", "runserver", "--bind", bind,
                "--wsgi", "bench_app:application", "--workers", "2", "--access-log", "off"]
    gunicorn = [str(peer_bin / "gunicorn"), "-b", bind, "--log-level", "warning",
                "bench_app:application"]
    if peer == "gunicorn-sync":
        return gunicorn + ["-w", str(2 * os.cpu_count() + 1)]
    if peer == "gunicorn-gthread":
        return gunicorn + ["-w", "2", "-k", "gthread", "--threads", "16"]
    if peer == "gunicorn-gevent":
        return gunicorn + ["-w", "2", "-k", "gevent", "--worker-connections", "1000"]
    if peer == "granian":
        return [str(peer_bin / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                "--port", str(port), "--workers", "2", "--blocking-threads", "16",
                "--no-ws", "--log-level", "warning", "bench_app:application"]
    raise ValueError(peer)


def wait_until_serving(port, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def stop(process):
    """SIGTERM to the server's process group (its workers too), SIGKILL after 30 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except ProcessLookupError:
        process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_wrk(port, path, connections, seconds):
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", "-H", "Host: localhost", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    def number(pattern, default=0.0):
        match = re.search(pattern, out)
        return float(match.group(1)) if match else default
    def latency_ms(label):
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not match:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(number(r"Non-2xx or 3xx responses: (\d+)"))
    return {"rps": number(r"Requests/sec:\s+([\d.]+)"), "p50": latency_ms("50"),
            "p99": latency_ms("99"), "errors": errors}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--cases", default="", help="substrings of case names (default: all)")
    parser.add_argument("--peer-bin", required=True, help="the peers' venv bin directory")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    cases = [c for c in CASES if not args.cases or any(w in c[0] for w in args.cases.split(","))]
    puff_bin = str(ROOT / ".venv" / "bin" / "puff")
    peer_bin = Path(args.peer_bin)
    url = os.environ["TEST_POSTGRES_URL"]

    work = Path(tempfile.mkdtemp(prefix="puff-bench-http."))
    app = work / "app"
    shutil.copytree(ROOT / "examples" / "hello", app,
                    ignore=shutil.ignore_patterns("__pycache__", ".puff", "staticfiles"))
    for name in ("bench_app.py", "bench_settings.py"):
        shutil.copy(HERE / "http_app" / name, app / name)
    (app / "puff.toml").write_text('django_settings = "bench_settings"\n'
                                   '[[postgres]]\nname = "default"\nmax_size = 40\n')
    database = "puff_bench_http"
    subprocess.run(["psql", url, "-qc", f"drop database if exists {database}",
                    "-c", f"create database {database}"], check=True)
    db_url = url.rsplit("/", 1)[0] + "/" + database
    base_env = {**os.environ, "PUFF_EXAMPLE_DATABASE_URL": db_url, "PYTHONPATH": str(app),
                "DJANGO_SETTINGS_MODULE": "bench_settings"}
    base_env.pop("VIRTUAL_ENV", None)
    for step in (["migrate", "--no-input"], ["seed_worlds", "--count", "10000"]):
        subprocess.run([puff_bin, "django", *step], cwd=app, env=base_env, check=True,
                       capture_output=True)

    samples = {case[0]: {p: [] for p in peers} for case in cases}
    details = {case[0]: {p: [] for p in peers} for case in cases}
    try:
        for round_index in range(args.rounds):
            order = peers if round_index % 2 == 0 else list(reversed(peers))
            for peer in order:
                port = free_port()
                env = dict(base_env)
                if peer != "puff":
                    env["BENCH_PEER"] = "1"
                if peer == "gunicorn-gevent":
                    env["BENCH_PSYCOGREEN"] = "1"
                process = subprocess.Popen(server_command(peer, port, puff_bin, peer_bin),
                                           cwd=app, env=env, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE, start_new_session=True)
                try:
                    if not wait_until_serving(port, process):
                        err = process.stderr.read().decode(errors="replace")[-2000:] \
                            if process.poll() is not None else ""
                        print(f"bench: {peer} did not start; skipped\n{err}", file=sys.stderr)
                        continue
                    for name, path, connections in cases:
                        run_wrk(port, path, connections, 1)  # warm-up
                        result = run_wrk(port, path, connections, args.seconds)
                        samples[name][peer].append(result["rps"])
                        details[name][peer].append(result)
                        print(f"round {round_index + 1} {peer:<17} {name:<22} "
                              f"{result['rps']:>9,.0f} req/s  p99 {result['p99']} ms  "
                              f"errors {result['errors']}", flush=True)
                finally:
                    stop(process)
    finally:
        subprocess.run(["psql", url, "-qc", f"drop database if exists {database} with (force)"])
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for name, _path, _c in cases:
        row = {"case": name, "unit": "req/s"}
        for peer in peers:
            values = samples[name][peer]
            row[peer] = statistics.median(values) if values else None
        rows.append(row)
    best_peer = lambda row: max((row[p] or 0 for p in peers if p != "puff"), default=0)  # noqa
    for row in rows:
        row["best peer"] = best_peer(row) or None
    report.print_table(rows, peers, [("puff/best", "puff", "best peer")])
    for name, _path, _c in cases:
        for peer in peers:
            runs = details[name][peer]
            if runs:
                p99 = statistics.median(r["p99"] for r in runs if r["p99"] is not None)
                errors = sum(r["errors"] for r in runs)
                print(f"  {name:<22} {peer:<17} p99 {p99:8.2f} ms  errors {errors}")
    facts = {"python": platform.python_version(), "nproc": os.cpu_count(),
             "machine": platform.processor() or platform.machine(),
             "peers": subprocess.run([str(peer_bin / "pip"), "freeze"], capture_output=True,
                                     text=True).stdout.split(),
             "rounds": args.rounds, "seconds": args.seconds,
             "latency": {name: {p: details[name][p] for p in peers} for name, _p, _c in cases}}
    report.write_files("http", rows, samples, peers, facts, args.out,
                       "puff runserver vs peers (median req/s, 2 workers each)")


if __name__ == "__main__":
    main()
