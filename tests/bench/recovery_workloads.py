"""Workload of `scripts/bench recovery`, one process per sample (recovery_bench.py):

    puff python recovery_workloads:main CLIENT URL STOP_FILE      (puff: greenlets on the hub)
    python recovery_workloads.py CLIENT URL STOP_FILE             (redis-py: threads)

CALLERS callers issue a Redis GET each, 1 ms apart, until STOP_FILE exists, while the bench
stops and restarts the server. Prints "ready" once every caller has succeeded, then the runs of
outcomes as one JSON line: [[first, last, ok, count], ...] in time.monotonic() (the system-wide
clock the bench reads too)."""
import json
import os
import sys
import threading
import time

CALLERS = 4
PAUSE = 0.001


class Runs:
    def __init__(self):
        self.runs = []
        self.lock = threading.Lock()

    def record(self, ok):
        now = time.monotonic()
        with self.lock:
            if self.runs and self.runs[-1][2] == ok:
                self.runs[-1][1] = now
                self.runs[-1][3] += 1
            else:
                self.runs.append([now, now, ok, 1])


def caller(client, runs, stop, started, sleep):
    first = True
    while not os.path.exists(stop):
        try:
            client.get("recovery")
            runs.record(True)
            if first:
                started.release()
                first = False
        except Exception:  # the outage: any error counts as a failure
            runs.record(False)
        sleep(PAUSE)


def run(spawn, join, sleep, client, stop):
    runs = Runs()
    started = threading.Semaphore(0)
    tasks = [spawn(caller, client, runs, stop, started, sleep) for _ in range(CALLERS)]
    for _ in range(CALLERS):
        while not started.acquire(blocking=False):
            sleep(0.01)
    print("ready", flush=True)
    join(tasks)
    print(json.dumps(runs.runs), flush=True)


def main(argv=None):
    """Under puff: the callers are greenlets on the hub, the client puff's pipelined pool."""
    import puff
    from django_puff import redis
    _client, url, stop = argv or sys.argv[1:]
    run(puff.spawn, puff.join_all, puff.sleep, redis.from_url(url), stop)


def threads_main(url, stop):
    """Plain python: redis-py's client (a connection per thread from its pool)."""
    import redis

    def spawn(fn, *args):
        thread = threading.Thread(target=fn, args=args)
        thread.start()
        return thread
    run(spawn, lambda ts: [t.join() for t in ts], time.sleep, redis.Redis.from_url(url), stop)


if __name__ == "__main__":
    threads_main(*sys.argv[2:])
