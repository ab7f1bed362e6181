"""Slow clients against everyone else: while 100 clients send a form post's body a byte a
second and 100 clients request a streamed response and never read it, a monitor client asks
for /json every 20 ms, in turn on 4 keep-alive connections of its own. What counts is the
monitor's latency (share answered within 100 ms, percentiles) and its failures (no answer
within 2 s). The server runs examples/bench as `scripts/bench http` serves it (--workers N);
every slow client starts again when the server closes its connection.

    .venv/bin/python tests/bench/slow_clients_bench.py [--seconds 30] [--slow-bodies 100]
        [--non-readers 100] [--servers puff ...] [--peer-python P]

PUFF_BIN chooses the puff binary (e.g. one built from main, for a before/after). Needs no
database (/form, /stream and /json do not query)."""
import argparse
import asyncio
import collections
import os
import socket
import statistics
import threading
import time

import http_bench
from http_servers import SERVERS

MONITOR_TIMEOUT = 2.0
MONITOR_CONNECTIONS = 4
FORM_BYTES = 1000


async def slow_body_client(port, stop, state):
    """POST /form, its body a byte a second; again whenever the server closes."""
    head = (f"POST /form HTTP/1.1\r\nHost: bench\r\nContent-Type: "
            f"application/x-www-form-urlencoded\r\nContent-Length: {FORM_BYTES}\r\n\r\n").encode()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        state["slow bodies connected"] += 1
        try:
            writer.write(head)
            for _ in range(FORM_BYTES):
                if stop.is_set() or reader.at_eof():
                    break
                writer.write(b"a")
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(4096), 1.0) == b"":
                        break  # the server closed (408)
                except asyncio.TimeoutError:
                    pass
        except OSError:
            pass
        finally:
            state["slow bodies connected"] -= 1
            writer.close()


async def non_reading_client(port, stop, state):
    """GET /stream and never read it; again whenever the server closes."""
    while not stop.is_set():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # stall soon
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            sock.sendall(b"GET /stream?n=500 HTTP/1.1\r\nHost: bench\r\n\r\n")
            state["non-readers connected"] += 1
            while not stop.is_set():
                await asyncio.sleep(0.5)
                try:  # closed by the server? (peek without reading the response)
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        break
                except BlockingIOError:
                    pass
            state["non-readers connected"] -= 1
        except OSError:
            await asyncio.sleep(0.5)
        finally:
            sock.close()


def run_slow_clients(port, slow_bodies, non_readers, stop, started, state):
    async def main():
        tasks = [asyncio.create_task(slow_body_client(port, stop, state)) for _ in range(slow_bodies)]
        tasks += [asyncio.create_task(non_reading_client(port, stop, state))
                  for _ in range(non_readers)]
        started.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.run(main())


class Stream:
    """Reads HTTP/1.1 responses from a blocking socket (Content-Length or chunked)."""

    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def _until(self, marker):
        while marker not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self.buffer += data
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _exactly(self, n):
        while len(self.buffer) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self.buffer += data
        found, self.buffer = self.buffer[:n], self.buffer[n:]
        return found

    def response(self):
        """The status line; the body is read and dropped."""
        head = self._until(b"\r\n\r\n").split(b"\r\n")
        fields = {name.strip().lower(): value.strip() for name, _, value in
                  (line.partition(b":") for line in head[1:])}
        if b"content-length" in fields:
            self._exactly(int(fields[b"content-length"]))
        else:
            while size := int(self._until(b"\r\n"), 16):
                self._exactly(size + 2)
            self._until(b"\r\n")
        return head[0]


def monitor(port, seconds):
    """Latencies (s) of GET /json every 20 ms, in turn on MONITOR_CONNECTIONS keep-alive
    connections (so that every worker is sampled), and the requests not answered (a Counter
    of why)."""
    latencies, failures = [], collections.Counter()
    request = b"GET /json HTTP/1.1\r\nHost: bench\r\n\r\n"
    streams = [None] * MONITOR_CONNECTIONS
    deadline = time.monotonic() + seconds
    turn = 0
    while time.monotonic() < deadline:
        began = time.monotonic()
        turn = (turn + 1) % MONITOR_CONNECTIONS
        try:
            if streams[turn] is None:
                streams[turn] = Stream(socket.create_connection(("127.0.0.1", port),
                                                                timeout=MONITOR_TIMEOUT))
            streams[turn].sock.sendall(request)
            status = streams[turn].response()
            if not status.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(status.decode())
            latencies.append(time.monotonic() - began)
        except (OSError, ValueError) as error:
            failures[type(error).__name__ + (f" {error}" if str(error) else "")] += 1
            if streams[turn] is not None:
                streams[turn].sock.close()
            streams[turn] = None
        time.sleep(max(0.0, 0.02 - (time.monotonic() - began)))
    for stream in streams:
        if stream is not None:
            stream.sock.close()
    return latencies, failures


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main():
    parser = argparse.ArgumentParser(prog="slow_clients_bench.py")
    parser.add_argument("--seconds", type=int, default=30, help="how long the monitor runs")
    parser.add_argument("--slow-bodies", type=int, default=100)
    parser.add_argument("--non-readers", type=int, default=100)
    http_bench.add_server_arguments(parser)
    args = parser.parse_args()
    puff_bin, bin_dir = http_bench.server_binaries(args)
    print(f"slow clients: {args.slow_bodies} slow bodies + {args.non_readers} non-readers, "
          f"monitor {args.seconds} s, {args.workers} workers, {os.cpu_count()} cpus, load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    for name in args.servers:
        server = http_bench.Server(name, SERVERS[name], bin_dir, puff_bin, args.workers, {}, {})
        stop, started = threading.Event(), threading.Event()
        state = {"slow bodies connected": 0, "non-readers connected": 0}
        try:
            server.wait_ready()
            time.sleep(5)  # every worker has loaded the application (one answered /json)
            clients = threading.Thread(target=run_slow_clients, daemon=True,
                                       args=(server.port, args.slow_bodies, args.non_readers,
                                             stop, started, state))
            clients.start()
            started.wait(10)
            time.sleep(2)  # every slow client is connected and stuck
            at_start = dict(state)
            latencies, failures = monitor(server.port, args.seconds)
            print(f"  slow clients at the monitor's start {at_start}, at its end {state}")
        finally:
            stop.set()
            server.stop()
        asked = len(latencies) + sum(failures.values())
        fast = sum(1 for value in latencies if value <= 0.1)
        print(f"{name}: {asked} monitor requests, {fast / asked:.1%} within 100 ms, "
              f"{sum(failures.values())} not answered {dict(failures)}; latency ms p50 "
              f"{percentile(latencies, 0.5) * 1000:.1f}, p90 {percentile(latencies, 0.9) * 1000:.1f}, "
              f"p99 {percentile(latencies, 0.99) * 1000:.1f}, max "
              f"{max(latencies, default=float('nan')) * 1000:.1f}"
              f" (mean {statistics.mean(latencies) * 1000 if latencies else float('nan'):.1f})",
              flush=True)


if __name__ == "__main__":
    main()
