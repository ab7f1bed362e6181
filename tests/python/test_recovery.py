"""Pools recover as soon as their server is back. `puff python` runs loops of cache commands and
ORM queries while the test stops Redis and PostgreSQL for 3 s and then for 7 s, restarting each
on the same port. From the loops' own timestamps: failures stop shortly after each server is
back; from puff's log: each outage is one loss line and one regain line per pool."""
import json
import re
import time

import pytest

from django_support import write_django_project
from pg_support import throwaway_cluster
from redis_support import OwnRedis

OUTAGES = (3.0, 7.0)
# "Shortly": a functional bound, far above what recovery takes (tens of ms), far below the
# backoff a long outage builds up (seconds).
RECOVERY_BOUND = 1.0

LOOPS = """
    import json, os, sys, time
    import django, puff
    from django.core.cache import caches
    from django.db import close_old_connections, connection

    STOP = os.environ["LOOPS_STOP_FILE"]
    segments = {"cache": [], "orm": []}  # [first, last, ok, count, first error]: runs of outcomes

    def record(kind, ok, error=None):
        now = time.monotonic()  # the system-wide clock: the test compares it with its own
        runs = segments[kind]
        if runs and runs[-1][2] == ok:
            runs[-1][1] = now
            runs[-1][3] += 1
        else:
            runs.append([now, now, ok, 1, error])

    def cache_command():
        caches["default"].set("recovery", 1)

    def orm_query():
        with connection.cursor() as cursor:
            cursor.execute("select 1")
            cursor.fetchone()

    def loop(kind, operation):
        while not os.path.exists(STOP):
            try:
                operation()
                record(kind, True)
            except Exception as e:
                record(kind, False, f"{type(e).__name__}: {e}"[:300])
                if kind == "orm":
                    close_old_connections()  # as at the end of a request
            puff.sleep(0.005)

    def main():
        django.setup()
        tasks = [puff.spawn(loop, kind, operation) for _ in range(4)
                 for kind, operation in (("cache", cache_command), ("orm", orm_query))]
        while not all(any(run[2] for run in runs) for runs in segments.values()):
            puff.sleep(0.05)
        print("ready", flush=True)
        puff.join_all(tasks)
        print(json.dumps(segments))
"""


@pytest.fixture(scope="module")
def cluster():
    with throwaway_cluster("puff-recovery.") as server:
        yield server


def run_outages(redis_server, cluster):
    """Stops both servers for each of OUTAGES seconds; returns per server the (stopping, up)
    times (time.monotonic(): when its stop began, when its start returned)."""
    times = {"cache": [], "orm": []}
    for seconds in OUTAGES:
        redis_stopping = time.monotonic()
        redis_server.stop()
        pg_stopping = time.monotonic()
        cluster.stop()
        time.sleep(max(0.0, redis_stopping + seconds - time.monotonic()))
        redis_server.start()
        times["cache"].append((redis_stopping, time.monotonic()))
        time.sleep(max(0.0, pg_stopping + seconds - time.monotonic()))
        cluster.start()
        times["orm"].append((pg_stopping, time.monotonic()))
        time.sleep(3.0)  # under load again before the next outage
    return times


def check_recovery(kind, runs, windows):
    """For each outage: the loop failed during it, its last failure came at most RECOVERY_BOUND
    after the server was back, and it succeeded again within that bound."""
    for i, (stopping, up) in enumerate(windows):
        until = windows[i + 1][0] if i + 1 < len(windows) else float("inf")
        failures = [r for r in runs if not r[2] and r[1] >= stopping and r[0] < until]
        successes_after = [r for r in runs if r[2] and r[1] >= up and r[0] < until]
        label = f"{kind}, outage {i + 1} ({OUTAGES[i]} s)"
        assert failures, f"{label}: no failure seen while the server was down"
        last_failure = max(r[1] for r in failures)
        assert last_failure - up <= RECOVERY_BOUND, (
            f"{label}: still failing {last_failure - up:.2f} s after the server was back: "
            f"{failures[-1][4]}")
        assert successes_after, f"{label}: no success after the server was back"
        first_success = min(r[0] for r in successes_after)
        assert first_success - up <= RECOVERY_BOUND, (
            f"{label}: first success {first_success - up:.2f} s after the server was back")
        print(f"{label}: last failure {last_failure - up:+.3f} s, first success "
              f"{first_success - up:+.3f} s from the restart")


def pool_lines(stderr, subject):
    return [line for line in stderr.splitlines() if subject in line]


def run_loops(project, cluster, redis_server, stop_file):
    """Runs the loops under puff through the outages: (runs, outage windows, puff's stderr)."""
    env = write_django_project(project, cluster.url, app_name="puff-recovery-test",
                               pool='{"max_size": 4, "acquire_timeout": 1}')
    project.write("settings_recovery.py", f"""
        from settings import *
        CACHES = {{"default": {{"BACKEND": "django_puff.cache.RedisCache",
                               "LOCATION": {redis_server.url!r},
                               "OPTIONS": {{"COMMAND_TIMEOUT": 1}}}}}}
    """)
    project.write("loops.py", LOOPS)
    env.update(DJANGO_SETTINGS_MODULE="settings_recovery", LOOPS_STOP_FILE=str(stop_file))
    proc = project.start("python", "loops:main", env=env)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        windows = run_outages(redis_server, cluster)
    finally:
        stop_file.write_text("")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), windows, err


def test_failures_stop_when_the_servers_are_back_and_each_outage_is_two_lines(
        project, cluster, tmp_path):
    redis_server = OwnRedis(tmp_path / "redis")
    try:
        runs, windows, err = run_loops(project, cluster, redis_server, tmp_path / "stop")
    finally:
        redis_server.stop()
    print(err)
    for kind in ("cache", "orm"):
        check_recovery(kind, runs[kind], windows[kind])

    redis_lines = pool_lines(err, f"Redis pool 'cache:url' at 127.0.0.1:{redis_server.port}")
    pg_lines = pool_lines(err, "PostgreSQL pool 'default'")
    for lines in (redis_lines, pg_lines):
        kinds = [m.group(0) if (m := re.search("lost its server|has its server back", line))
                 else line for line in lines]
        assert kinds == ["lost its server", "has its server back"] * len(OUTAGES), lines
        for line in lines[1::2]:
            assert re.search(r"failed meanwhile: [1-9]\d*$", line), line
