"""What a reload and a stop cost under load: the server runs examples/bench as `scripts/bench
http` serves it (--workers N), 256 connections keep it busy with /json, and halfway through
the server gets SIGHUP (it reloads and keeps serving) or SIGTERM (it stops).

Two load generators, each per signal:
- wrk -c256: its own figures. wrk 4.1 counts a connection refused after the start as a
  *write* error (its connect is non-blocking; the refusal shows on the first write), so after
  a stop its write errors mix refused connections (fine: the server is gone) with losses.
- a wrk-like client (256 connections from 2 processes, keep-alive, no retries, a new
  connection after `Connection: close`) that tells them apart: `refused` (connect failed:
  not an error after a stop), `reset` (accepted, then closed before the request was
  written), `lost` (a request written and never answered), `timeout` (no answer in 5 s),
  `non-2xx`.

    .venv/bin/python tests/bench/stop_reload_bench.py [--runs 5] [--signals HUP TERM]
        [--clients wrk strict] [--servers puff gunicorn-gthread ...] [--peer-python P]

PUFF_BIN chooses the puff binary (e.g. one built from main, for a before/after). Needs no
database (/json). Peers other than puff need --peer-python (the venv scripts/bench http makes)."""
import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import time

import http_bench
from http_servers import SERVERS

CONNECTIONS = 256
KINDS = ["requests", "refused", "reset", "lost", "timeout", "non-2xx"]


def run_wrk(port, seconds):
    url = f"http://127.0.0.1:{port}/json"
    wrk = subprocess.Popen(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
                            url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return lambda: summarize_wrk(http_bench.parse_wrk(wrk.communicate(timeout=seconds + 60)[0]))


def summarize_wrk(result):
    errors = result["errors"]
    return {"requests": result["requests"], "read": errors["read"], "write": errors["write"],
            "timeout": errors["timeout"], "non-2xx": errors["non-2xx"],
            "connect": errors["connect"]}


async def read_body(reader, fields):
    if b"content-length" in fields:
        await reader.readexactly(int(fields[b"content-length"]))
        return
    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):  # chunked
        await reader.readexactly(size + 2)
    await reader.readuntil(b"\r\n")


async def strict_connection(port, deadline, counts):
    request = b"GET /json HTTP/1.1\r\nHost: bench\r\n\r\n"
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts["refused"] += 1
            await asyncio.sleep(0.01)
            continue
        written = False
        try:
            while time.monotonic() < deadline:
                written = False
                writer.write(request)
                await writer.drain()
                written = True
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                fields = {}
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    fields[name.strip().lower()] = value.strip().lower()
                await asyncio.wait_for(read_body(reader, fields), 5)
                counts["requests"] += 1
                if not head.startswith(b"HTTP/1.1 2"):
                    counts["non-2xx"] += 1
                if fields.get(b"connection") == b"close":
                    break
        except asyncio.TimeoutError:
            counts["timeout"] += 1
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            counts["lost" if written else "reset"] += 1
        finally:
            writer.close()


def strict_process(port, connections, seconds):
    counts = dict.fromkeys(KINDS, 0)

    async def main():
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(strict_connection(port, deadline, counts)
                               for _ in range(connections)))
    asyncio.run(main())
    return counts


def run_strict(port, seconds):
    pool = multiprocessing.Pool(2)
    parts = [pool.apply_async(strict_process, (port, CONNECTIONS // 2, seconds))
             for _ in range(2)]

    def finish():
        total = dict.fromkeys(KINDS, 0)
        for part in parts:
            for kind, count in part.get(seconds + 60).items():
                total[kind] += count
        pool.close()
        return total
    return finish


CLIENTS = {"wrk": (run_wrk, ["requests", "read", "write", "timeout", "non-2xx", "connect"]),
           "strict": (run_strict, KINDS)}


def main():
    parser = argparse.ArgumentParser(prog="stop_reload_bench.py")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per run")
    parser.add_argument("--signals", nargs="+", default=["HUP", "TERM"], choices=["HUP", "TERM"])
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS), choices=list(CLIENTS))
    http_bench.add_server_arguments(parser)
    args = parser.parse_args()
    puff_bin, bin_dir = http_bench.server_binaries(args)
    print(f"stop/reload under {CONNECTIONS} connections: {puff_bin}, {args.workers} workers, "
          f"{args.duration} s per run, signal after {args.duration / 2:.0f} s, "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}", flush=True)
    for client in args.clients:
        start_load, columns = CLIENTS[client]
        print(f"\n{client}:\n{'server':<18}{'signal':<7}{'run':>4}"
              + "".join(f"{c:>10}" for c in columns), flush=True)
        for name in args.servers:
            for sig in args.signals:
                run_signal(args, client, start_load, columns, name, sig, bin_dir, puff_bin)


def run_signal(args, client, start_load, columns, name, sig, bin_dir, puff_bin):
    signum = getattr(signal, "SIG" + sig)
    server = None
    try:
        for run in range(1, args.runs + 1):
            if server is None:
                server = http_bench.Server(name, SERVERS[name], bin_dir, puff_bin, args.workers,
                                           {}, {})
                server.wait_ready()
            http_bench.wrk(f"http://127.0.0.1:{server.port}/json", 64, 1, False)  # warm-up
            finish = start_load(server.port, args.duration)
            time.sleep(args.duration / 2)
            os.kill(server.process.pid, signum)
            result = finish()
            note = ""
            if signum == signal.SIGTERM:
                note = f"  exit {server.process.wait(60)}"
                server.stop()
                server = None
            else:
                time.sleep(2)  # the old workers finish draining before the next run
            print(f"{name:<18}{sig:<7}{run:>4}" + "".join(f"{result[c]:>10}" for c in columns)
                  + note, flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
