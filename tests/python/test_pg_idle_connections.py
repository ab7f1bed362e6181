"""A finished greenlet's clean Django connection goes to the next greenlet (idle_connections.py):
reused when it is safe, never when it is not, never by two greenlets at once. Runs the real
`puff` binary on the throwaway PostgreSQL server."""
import json
import os

import pytest

from django_support import write_django_project

URL = os.environ.get("TEST_POSTGRES_URL")
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    not URL, reason="TEST_POSTGRES_URL not set (scripts/test sets it)")]

# Helpers of every scenario: run(f) runs f in a new task and returns its result once that task
# has ended; mark(label) tags the greenlet's Django connection (and its driver connection) and
# returns the tags it found there, i.e. what a previous greenlet left.
COMMON = """
import gc, json
import django, puff
from django.db import connection, connections, transaction

def run(function, *args):
    return puff.join_all([puff.spawn(function, *args)])[0]

def mark(label):
    with connection.cursor() as cur:
        cur.execute("select 1")
    found = (getattr(connection, "_test_mark", None),
             getattr(connection.connection, "_test_mark", None))
    connection._test_mark = label
    connection.connection._test_mark = label
    return found

def pool():
    from psycopg2 import _psycopg
    return [p for p in _psycopg.pool_stats() if p["name"] == "default"][0]
"""


def run_scenarios(project, body):
    env = write_django_project(project, URL, app_name="puff-idle-test")
    project.write("work.py", COMMON + body.replace("__URL__", repr(URL)))
    result = project.run("python", "work:main", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_clean_connection_goes_to_the_next_greenlet_open_and_emptied(project):
    report = run_scenarios(project, """
from django.core import signals

def debug_query_then_request_end():
    connection.force_debug_cursor = True
    mark("debug")
    # Django's end of a request; CONN_MAX_AGE is 0: a pooled connection stays open all the same
    signals.request_finished.send(sender=None)
    return connection.connection is not None

def state():
    return {"mark": mark("seen")[0], "queries": len(connection.queries_log),
            "debug": connection.force_debug_cursor}

def main():
    django.setup()
    report = {"first": run(mark, "a"), "second": run(mark, "b")}
    report["open_after_request_end"] = run(debug_query_then_request_end)
    report["after_debug"] = run(state)
    # 200 greenlets one after the other: one Django connection, one server connection
    for i in range(200):
        run(mark, i)
    report["after_200"] = run(mark, "last")
    report["pool"] = pool()
    print(json.dumps(report))
""")
    assert report["first"] == [None, None]
    # the same Django connection and the same (still open) driver connection
    assert report["second"] == ["a", "a"]
    assert report["open_after_request_end"] is True
    assert report["after_debug"] == {"mark": "debug", "queries": 0, "debug": False}
    assert report["after_200"] == [199, 199]
    assert report["pool"]["size"] == 1 and report["pool"]["in_use"] == 0, report["pool"]


def test_a_connection_left_in_a_transaction_or_out_of_autocommit_is_not_handed_on(project):
    report = run_scenarios(project, """
def left_in_atomic():
    mark("atomic")
    transaction.atomic().__enter__()  # never left: the greenlet ends inside the block
    with connection.cursor() as cur:
        cur.execute("select 1")

def left_without_autocommit():
    mark("no-autocommit")
    connection.set_autocommit(False)

def on_commit_pending():
    mark("on-commit")
    connection.in_atomic_block = False
    connection.run_on_commit = [(set(), lambda: None, False)]

def failed_statement():
    mark("failed")
    try:
        with connection.cursor() as cur:
            cur.execute("select * from no_such_table")
    except Exception:
        pass

def raw_begin():
    mark("raw-begin")
    with connection.cursor() as cur:
        cur.execute("begin")  # behind Django's back: only the driver knows
        cur.execute("select 1")

def main():
    django.setup()
    report = {}
    for name, function in [("atomic", left_in_atomic), ("autocommit", left_without_autocommit),
                           ("on_commit", on_commit_pending), ("failed", failed_statement),
                           ("raw_begin", raw_begin)]:
        run(function)
        gc.collect()
        report[name] = run(mark, "next")
        report[name + "_in_use"] = pool()["in_use"]
        run(mark, "reset")  # the clean one goes idle again, for the next scenario
    print(json.dumps(report))
""")

    for name in ("atomic", "autocommit", "on_commit", "failed", "raw_begin"):
        found = report[name]
        # not the connection the previous greenlet left behind (at most an older clean one)
        assert found[0] not in ("atomic", "no-autocommit", "on-commit", "failed", "raw-begin"), \
            (name, found)
        assert report[name + "_in_use"] == 0, (name, report)


def test_concurrent_greenlets_never_share_a_connection(project):
    report = run_scenarios(project, """
def hold(i):
    mark(i)
    me = id(connections["default"])
    puff.sleep(0.05)  # all alive at once
    with connection.cursor() as cur:
        cur.execute("select %s", [i])
        return [me, cur.fetchone()[0] == i, connection._test_mark == i]

def main():
    django.setup()
    for round in range(3):  # the second and third rounds run on handed-on connections
        results = puff.join_all([puff.spawn(hold, i) for i in range(20)])
    print(json.dumps({"ids": len({r[0] for r in results}),
                      "own": all(r[1] and r[2] for r in results), "pool": pool()}))
""")
    assert report["ids"] == 20
    assert report["own"]
    assert report["pool"]["in_use"] == 0 and report["pool"]["size"] <= 10


def test_settings_changes_and_borrowed_connections_are_not_handed_on(project):
    report = run_scenarios(project, """
from django.test import override_settings
from django_puff import borrow_db_context

def time_zone():
    found = mark("tz")[0]
    with connection.cursor() as cur:
        cur.execute("show timezone")
        return [found, cur.fetchone()[0]]

def database():
    found = mark("db")[0]
    with connection.cursor() as cur:
        cur.execute("select current_database()")
        return [found, cur.fetchone()[0]]

def borrowing(conn):
    with borrow_db_context(conn):
        connections["default"]._test_mark = "borrowed"
        with connections["default"].cursor() as cur:
            cur.execute("select 1")

def main():
    django.setup()
    report = {}
    run(mark, "before")
    with override_settings(USE_TZ=False, TIME_ZONE="Asia/Tokyo"):
        report["tz"] = run(time_zone)
    report["after_tz"] = run(mark, "x")[0]
    # One that connected before the change and ends during it is not handed on either.
    def slow():
        mark("slow")
        puff.sleep(0.1)
    task = puff.spawn(slow)
    puff.sleep(0.03)
    with override_settings(USE_TZ=False, TIME_ZONE="Asia/Tokyo"):
        task.join()
        report["in_flight"] = run(time_zone)
    # The test runner's way of switching databases: the shared settings dict's NAME changes.
    with connection.cursor() as cur:
        cur.execute("drop database if exists puff_idle_other")
        cur.execute("create database puff_idle_other")
    name = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = "puff_idle_other"
    try:
        report["db"] = run(database)
    finally:
        connection.settings_dict["NAME"] = name
    report["back"] = run(database)
    import psycopg2
    conn = psycopg2.connect(__URL__)
    run(borrowing, conn)
    conn.close()
    report["after_borrow"] = run(mark, "y")[0]
    with connection.cursor() as cur:
        cur.execute("drop database puff_idle_other with (force)")
    print(json.dumps(report))
""")
    assert report["tz"] == [None, "Asia/Tokyo"]
    assert report["after_tz"] is None  # the Tokyo one was dropped when the settings changed
    assert report["in_flight"] == [None, "Asia/Tokyo"]
    assert report["db"] == [None, "puff_idle_other"]
    assert report["back"][1] != "puff_idle_other" and report["back"][0] != "db"
    assert report["after_borrow"] != "borrowed"
