"""Workloads of `scripts/bench pg`, run in a fresh process per sample by pg_bench.py:

    python pg_workloads.py CASE DRIVER URL N           (plain python: psycopg2 or psycopg)
    puff python pg_workloads:main CASE DRIVER URL N    (inside puff's hub)

Prints one JSON line {"ops": N, "seconds": s}. Same SQL for every driver."""
import json
import sys
import threading
import time

ONE_ROW = "select id, randomnumber from world where id = %s"
TWENTY_ROWS = "select id, randomnumber from world where id between %s and %s"
WORKERS = 100
POOL_SIZE = 8  # server connections behind the 100 callers of the "hubpool" cases


def connect(driver, url, pooled=False):
    if pooled:  # puff's driver on a bounded pool, as the Django engine runs under puff
        from functools import partial

        import psycopg2.extensions
        factory = partial(psycopg2.extensions.connection,
                          _pool={"pool_name": "bench", "max_size": POOL_SIZE})
        conn = psycopg2.connect(url, connection_factory=factory)
        conn.autocommit = True
        return conn
    if driver == "psycopg":
        import psycopg
        return psycopg.connect(url, autocommit=True)
    import psycopg2
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def loop(conn, n, twenty, offset=0):
    cur = conn.cursor()
    for i in range(n):
        start = (i * 37 + offset) % 9980 + 1
        if twenty:
            cur.execute(TWENTY_ROWS, (start, start + 19))
            rows = cur.fetchall()
            assert len(rows) == 20
        else:
            cur.execute(ONE_ROW, (start,))
            assert cur.fetchone()[0] == start


def plain(driver, url, n, twenty):
    conn = connect(driver, url)
    loop(conn, 50, twenty)  # warm-up
    started = time.perf_counter()
    loop(conn, n, twenty)
    return time.perf_counter() - started


def concurrent(driver, url, n, twenty, spawn, join, pooled=False):
    """WORKERS callers, each with its own connection object, n queries in all."""
    conns = [connect(driver, url, pooled) for _ in range(WORKERS)]
    per_worker = n // WORKERS
    started = time.perf_counter()
    join([spawn(loop, c, per_worker, twenty, k * 101) for k, c in enumerate(conns)])
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    return elapsed


def threads_spawn(fn, *args):
    t = threading.Thread(target=fn, args=args)
    t.start()
    return t


def threads_join(threads):
    for t in threads:
        t.join()


def run(case, driver, url, n):
    twenty = case.endswith("20")
    if case.startswith("plain"):
        seconds = plain(driver, url, n, twenty)
    elif case.startswith("hub"):
        import puff
        seconds = concurrent(driver, url, n, twenty, puff.spawn, puff.join_all,
                             pooled=case.startswith("hubpool"))
    else:
        seconds = concurrent(driver, url, n, twenty, threads_spawn, threads_join)
    print(json.dumps({"ops": n, "seconds": seconds}))


def main():
    case, driver, url, n = sys.argv[1:5]
    run(case, driver, url, int(n))


if __name__ == "__main__":
    main()
