"""Faults that need a server of their own: PostgreSQL restarted under a running puff, and
password authentication, on a throwaway cluster of the module's own (pg_support)."""
import json
import time
from urllib.parse import urlparse

import pytest

from django_support import write_django_project
from pg_support import SERVERS_SH, throwaway_cluster

PASSWORD_ROLE, PASSWORD = "puff_pw", "right-password"


@pytest.fixture(scope="module")
def cluster():
    with throwaway_cluster("puff-pg-faults.") as server:
        server.require_password_for(PASSWORD_ROLE, PASSWORD)
        yield server


def wait_for_backends(cluster, application_name, count, limit=5.0):
    deadline = time.monotonic() + limit
    while True:
        seen = cluster.backends(application_name)
        if seen == count or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_restart_fails_in_flight_queries_then_the_same_pool_recovers(project, cluster):
    app = "puff-restart-test"
    env = write_django_project(project, cluster.url, app_name=app,
                               pool='{"max_size": 4, "acquire_timeout": 30}')
    env.update(SERVERS_SH=str(SERVERS_SH), CLUSTER_DIR=cluster.directory,
               CLUSTER_PORT=str(cluster.port))
    project.write("work.py", """
        import json, os, subprocess
        import django, puff
        from django.db import connection, OperationalError

        def server(action):
            script = {"stop": 'stop_test_postgres "$1" fast',
                      "start": 'run_test_postgres "$1" "$2"'}[action]
            done = subprocess.run(
                ["bash", "-c", 'source "$0" && ' + script, os.environ["SERVERS_SH"],
                 os.environ["CLUSTER_DIR"], os.environ["CLUSTER_PORT"]],
                capture_output=True, text=True)
            assert done.returncode == 0, done.stderr

        def query(sql):
            with connection.cursor() as cur:
                cur.execute(sql)
                return cur.fetchone()[0]

        def in_flight():
            try:
                query("select pg_sleep(30)")
                return "no error"
            except OperationalError as e:  # Django's wrapper; the driver's class is the cause
                return [type(e).__name__, type(e.__cause__).__name__,
                        isinstance(e.__cause__, __import__("psycopg2").OperationalError)]

        def pool():
            return [p for p in puff.db_pool_stats() if p["name"] == "default"][0]

        def main():
            django.setup()
            # Four connections in the pool: three get stuck in queries, one stays idle.
            puff.join_all([puff.spawn(query, "select pg_sleep(0.2)") for _ in range(4)])
            before = pool()
            stuck = [puff.spawn(in_flight) for _ in range(3)]
            puff.sleep(0.5)
            during = pool()
            puff.run_blocking(server, "stop")
            failed = puff.join_all(stuck)
            # Asked while the server is down: waits (the pool has worked before) and is served
            # once the server is back.
            waiting = puff.spawn(query, "select 'served after the restart'")
            puff.sleep(0.5)
            down = pool()
            puff.run_blocking(server, "start")
            served = waiting.join()
            after = puff.join_all([puff.spawn(query, "select 42") for _ in range(8)])
            own = query("select 7")  # this greenlet's connection, idle across the restart
            backends = query("select count(*) from pg_stat_activity "
                             "where application_name = 'puff-restart-test'")
            print(json.dumps({"before": before, "during": during, "failed": failed,
                              "down": down, "served": served, "after": after, "own": own,
                              "end": pool(), "backends": backends}))
    """)
    result = project.run("python", "work:main", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    report = last_json(result)
    print(report)
    assert report["before"]["size"] == 4 and report["before"]["in_use"] == 0, report
    assert report["during"]["in_use"] == 3, report
    assert report["failed"] == [["OperationalError", "AdminShutdown", True]] * 3, report
    assert report["down"]["waiting"] == 1 and report["down"]["last_connect_error"], report
    assert report["served"] == "served after the restart"
    assert report["after"] == [42] * 8
    assert report["own"] == 7
    end = report["end"]
    assert end["in_use"] == 0 and end["waiting"] == 0 and end["size"] <= 4, end
    assert end["dropped_total"] >= 4, end  # three broken in flight, the idle one on checkout
    assert end["last_connect_error"] == "", end
    # The server sees the pool's connections, no more (some may still be opening: "<=").
    assert 1 <= report["backends"] <= end["size"], report
    # No leaked server connections: while puff ran, only the pool's; after it exits, none.
    assert wait_for_backends(cluster, app, 0) == 0


def test_wrong_password_is_one_clear_error_dedicated_and_pooled(project, cluster):
    u = urlparse(cluster.url)
    right = f"postgresql://{PASSWORD_ROLE}:{PASSWORD}@{u.hostname}:{u.port}/postgres"
    wrong = right.replace(PASSWORD, "not-the-password")
    env = write_django_project(project, right, password="nope", pool='{"acquire_timeout": 30}')
    project.write("work.py", f"""
        import json, time
        import django, psycopg2
        from django.db import connection, OperationalError

        def attempt(fn):
            started = time.monotonic()
            try:
                return ["ok", fn()]
            except Exception as e:
                return [type(e).__name__, str(e), time.monotonic() - started]

        def dedicated(dsn):
            conn = psycopg2.connect(dsn)
            try:
                cur = conn.cursor()
                cur.execute("select current_user")
                return cur.fetchone()[0]
            finally:
                conn.close()

        def pooled():
            with connection.cursor() as cur:
                cur.execute("select 1")
                return cur.fetchone()[0]

        def main():
            django.setup()
            print(json.dumps({{"right": attempt(lambda: dedicated({right!r})),
                               "dedicated": attempt(lambda: dedicated({wrong!r})),
                               "pooled": attempt(pooled),
                               "pooled_again": attempt(pooled)}}))
    """)
    result = project.run("python", "work:main", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    report = last_json(result)
    print(report)
    assert report["right"] == ["ok", PASSWORD_ROLE]  # the role and the password do work
    for key in ("dedicated", "pooled", "pooled_again"):
        kind, message, took = report[key]
        assert kind == "OperationalError", report[key]
        assert f'password authentication failed for user "{PASSWORD_ROLE}"' in message, message
        assert "\n" not in message.strip(), message  # one line
        assert "not-the-password" not in message and "nope" not in message, message
        assert took < 5, report[key]  # at once, not after the pool's acquire_timeout (30 s)
    assert "pool 'default'" in report["pooled"][1]
