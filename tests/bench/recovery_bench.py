"""`scripts/bench recovery`: how soon Redis clients under load work again after their server
restarts. Each sample starts a redis-server of its own and a client process with 4 callers
issuing GETs 1 ms apart (recovery_workloads.py), kills the server (SIGKILL), starts it again on
the same port after the outage, and reads the callers' timestamps: from the server's return
(when the bench's own PING first succeeds) to the callers' first success and to their last
failure. Rounds alternate the clients; the table shows medians in milliseconds.

    tests/bench/recovery_bench.py [--puff LABEL=PUFF_BINARY ...] [--peer-python PYTHON]
                                  [--rounds N] [--outages 3,7]

--puff (repeatable) compares builds, e.g. --puff main=/path/to/main/puff --puff new=.venv/bin/puff
(default: this checkout's as "puff"); --peer-python adds redis-py (a python that has it)."""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Server:
    def __init__(self, directory):
        self.directory, self.port, self.process = directory, free_port(), None

    def start(self):
        """Starts redis-server; returns when (time.monotonic()) it first answered a PING."""
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not answers_ping(self.port):
            if time.monotonic() > deadline:
                sys.exit(f"bench: redis-server on port {self.port} did not start")
            time.sleep(0.001)
        return time.monotonic()

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def sample(command, outage):
    """(first success, last failure) after the server's return, in ms, for one outage."""
    with tempfile.TemporaryDirectory(prefix="puff-bench-recovery.") as work:
        server = Server(work)
        server.start()
        stop = Path(work) / "stop"
        proc = subprocess.Popen([*command, f"redis://127.0.0.1:{server.port}/0", str(stop)],
                                cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "PUFF_WATCHDOG_MS": "0"})
        try:
            if proc.stdout.readline().strip() != "ready":
                sys.exit(f"bench: {' '.join(command)} failed:\n{proc.stderr.read()[-3000:]}")
            time.sleep(0.5)
            killed = time.monotonic()
            server.kill()
            time.sleep(outage)
            back = server.start()
            time.sleep(max(3.0, outage))  # longer than any backoff left to wait out
        finally:
            stop.write_text("")
            out, err = proc.communicate(timeout=60)
            server.kill()
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} exited {proc.returncode}:\n{err[-3000:]}")
    runs = json.loads(out.strip().splitlines()[-1])
    failures = [r for r in runs if not r[2] and r[1] >= killed]
    successes = [r for r in runs if r[2] and r[1] >= back and r[0] >= killed]
    if not failures or not successes:
        sys.exit(f"bench: {command[0]} saw no outage or no recovery: {runs}")
    return (1000 * (min(r[0] for r in successes) - back),
            1000 * (max(r[1] for r in failures) - back))


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench recovery")
    parser.add_argument("--puff", action="append", default=[], metavar="LABEL=BINARY")
    parser.add_argument("--peer-python", help="a python with redis-py: adds it as a peer")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--outages", default="3,7", help="seconds, comma-separated")
    args = parser.parse_args()
    commands = {}
    for item in args.puff or [f"puff={ROOT / '.venv' / 'bin' / 'puff'}"]:
        label, binary = item.split("=", 1)
        commands[label] = [os.path.abspath(binary), "python", "recovery_workloads:main", "puff"]
    if args.peer_python:
        commands["redis-py"] = [args.peer_python, "recovery_workloads.py", "redis-py"]
    outages = [float(s) for s in args.outages.split(",")]
    samples = {(o, label): [] for o in outages for label in commands}
    print(f"bench recovery: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"clients {', '.join(commands)}", flush=True)
    for round_number in range(args.rounds):
        for outage in outages:
            for label, command in commands.items():
                samples[(outage, label)].append(sample(command, outage))
        print(f"  round {round_number + 1}/{args.rounds} done", flush=True)

    print(f"\n{'Redis down':<12}{'client':<14}{'first success (ms)':>20}"
          f"{'last failure (ms)':>20}   samples (first/last)")
    for (outage, label), values in samples.items():
        firsts, lasts = [v[0] for v in values], [v[1] for v in values]
        print(f"{outage:<12g}{label:<14}{statistics.median(firsts):>20.0f}"
              f"{statistics.median(lasts):>20.0f}   "
              + " ".join(f"{a:.0f}/{b:.0f}" for a, b in values))
    print("  (ms after the server answered the bench's PING; negative: a client got through "
          "before the bench's PING did)")


if __name__ == "__main__":
    main()
