"""Workloads of `scripts/bench runtime`, each printing one JSON line {"ops": N, "seconds": S}.

puff_* run under `puff python runtime_workloads:NAME`; gevent_* under plain python with gevent
(the closest existing equivalent of puff's hub); the same shapes on both sides."""
import json
import os
import time

N = int(os.environ.get("BENCH_N", "100000"))          # tasks for spawn+join
GREENLETS = int(os.environ.get("BENCH_GREENLETS", "1000"))
YIELDS = int(os.environ.get("BENCH_YIELDS", "200"))   # sleep(0) per greenlet


def _report(ops, seconds):
    print(json.dumps({"ops": ops, "seconds": seconds}))


def _noop():
    return None


def puff_spawn_join():
    import puff
    start = time.perf_counter()
    puff.join_all([puff.spawn(_noop) for _ in range(N)])
    _report(N, time.perf_counter() - start)


def puff_round_trips():
    import puff

    def yielder():
        for _ in range(YIELDS):
            puff.sleep(0)

    tasks = [puff.spawn(yielder) for _ in range(GREENLETS)]
    start = time.perf_counter()
    puff.join_all(tasks)
    _report(GREENLETS * YIELDS, time.perf_counter() - start)


def puff_timers():
    import puff

    def sleeper():
        for _ in range(10):
            puff.sleep(0.001)

    start = time.perf_counter()
    puff.join_all([puff.spawn(sleeper) for _ in range(GREENLETS)])
    _report(GREENLETS * 10, time.perf_counter() - start)


def gevent_spawn_join():
    import gevent
    start = time.perf_counter()
    gevent.joinall([gevent.spawn(_noop) for _ in range(N)], raise_error=True)
    _report(N, time.perf_counter() - start)


def gevent_round_trips():
    import gevent

    def yielder():
        for _ in range(YIELDS):
            gevent.sleep(0)

    tasks = [gevent.spawn(yielder) for _ in range(GREENLETS)]
    start = time.perf_counter()
    gevent.joinall(tasks, raise_error=True)
    _report(GREENLETS * YIELDS, time.perf_counter() - start)


def gevent_timers():
    import gevent

    def sleeper():
        for _ in range(10):
            gevent.sleep(0.001)

    start = time.perf_counter()
    gevent.joinall([gevent.spawn(sleeper) for _ in range(GREENLETS)], raise_error=True)
    _report(GREENLETS * 10, time.perf_counter() - start)
