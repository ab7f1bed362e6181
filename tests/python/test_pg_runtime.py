"""Django on puff's driver inside the hub: pooled server connections, greenlets overlapping
their database waits, faults. Runs the real `puff` binary on the throwaway PostgreSQL server."""
import json
import os
from urllib.parse import urlparse

import pytest

URL = os.environ.get("TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="TEST_POSTGRES_URL not set (scripts/test sets it)")


def django_project(project, pool='{"max_size": 10}', app_name="puff-pool-test"):
    u = urlparse(URL)
    project.write("settings.py", f"""
        SECRET_KEY = "test"
        USE_TZ = True
        INSTALLED_APPS = []
        DATABASES = {{"default": {{
            "ENGINE": "django_puff.db.backends.postgresql",
            "NAME": {u.path.lstrip('/')!r}, "USER": {u.username!r}, "HOST": {u.hostname!r},
            "PORT": {u.port!r},
            "OPTIONS": {{"pool": {pool}, "application_name": {app_name!r}}},
        }}}}
    """)
    project.write("sampler.py", f"""
        import psycopg2, puff

        class MaxBackends:
            '''Samples pg_stat_activity on its own (dedicated) connection.'''
            def __init__(self):
                self.max = 0
                self.running = True
                self.conn = psycopg2.connect({URL!r})
                self.conn.autocommit = True
                self.task = puff.spawn(self._loop)

            def _loop(self):
                cur = self.conn.cursor()
                while self.running:
                    cur.execute("select count(*) from pg_stat_activity "
                                "where application_name = %s", [{app_name!r}])
                    self.max = max(self.max, cur.fetchone()[0])
                    puff.sleep(0.01)

            def stop(self):
                self.running = False
                self.task.join()
                self.conn.close()
                return self.max
    """)
    return {"DJANGO_SETTINGS_MODULE": "settings"}


def test_a_thousand_greenlets_share_a_bounded_pool_without_cross_talk(project):
    env = django_project(project)
    project.write("work.py", """
        import json, time
        import django, puff
        from django.db import connection, transaction
        from sampler import MaxBackends

        def one(i):
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute("insert into marks (task) values (%s)", [i])
                    cur.execute("select pg_sleep(0.05)")
                    cur.execute("select task from marks")
                    seen = sorted(r[0] for r in cur.fetchall())
            # Each transaction must see only its own uncommitted row plus committed ones,
            # never another greenlet's uncommitted row.
            return seen

        def main():
            django.setup()
            with connection.cursor() as cur:
                cur.execute("drop table if exists marks")
                cur.execute("create table marks (task int)")
            sampler = MaxBackends()
            started = time.perf_counter()
            tasks = [puff.spawn(one, i) for i in range(1000)]
            results = puff.join_all(tasks)
            elapsed = time.perf_counter() - started
            peak = sampler.stop()
            with connection.cursor() as cur:
                cur.execute("select count(*) from marks")
                total = cur.fetchone()[0]
                cur.execute("drop table marks")
            from psycopg2 import _psycopg
            print(json.dumps({"elapsed": elapsed, "peak": peak, "total": total,
                              "own_rows_seen": all(i in seen for i, seen in enumerate(results)),
                              "pools": _psycopg.pool_stats()}))
    """)
    result = project.run("python", "work:main", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)
    assert report["total"] == 1000
    assert report["own_rows_seen"]
    assert 0 < report["peak"] <= 10, report
    default_pool = [p for p in report["pools"] if p["name"] == "default"][0]
    assert default_pool["max"] == 10 and default_pool["size"] <= 10
    assert default_pool["in_use"] == 0 and default_pool["waiting"] == 0
    # 1000 x 50 ms on 10 connections is 5 s of sleeping at best: overlapped, not serial (50 s).
    assert report["elapsed"] < 30, report


def test_uncommitted_writes_are_invisible_to_other_greenlets(project):
    env = django_project(project)
    project.write("work.py", """
        import django, puff
        from django.db import connection, transaction

        def writer(gate):
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute("insert into iso values (1)")
                    gate.append("written")
                    while gate[-1] != "read":
                        puff.sleep(0.01)
                    raise RuntimeError("roll it back")

        def main():
            django.setup()
            with connection.cursor() as cur:
                cur.execute("drop table if exists iso")
                cur.execute("create table iso (v int)")
            gate = []
            t = puff.spawn(writer, gate)
            while not gate:
                puff.sleep(0.01)
            with connection.cursor() as cur:
                cur.execute("select count(*) from iso")
                seen_during = cur.fetchone()[0]
            gate.append("read")
            try:
                t.join()
            except RuntimeError:
                pass
            with connection.cursor() as cur:
                cur.execute("select count(*) from iso")
                after = cur.fetchone()[0]
                cur.execute("drop table iso")
            print(seen_during, after)
    """)
    result = project.run("python", "work:main", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0"]


def test_pool_exhaustion_waits_then_names_the_pool(project):
    env = django_project(project, pool='{"max_size": 1, "acquire_timeout": 0.3}')
    project.write("work.py", """
        import django, puff
        from django.db import connection, transaction, OperationalError

        def holder(release):
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute("select 1")
                    while not release:
                        puff.sleep(0.01)

        def main():
            django.setup()
            release = []
            t = puff.spawn(holder, release)
            puff.sleep(0.1)
            try:
                with connection.cursor() as cur:
                    cur.execute("select 1")
                print("no error")
            except OperationalError as e:
                print("error:", e)
            release.append(1)
            t.join()
            with connection.cursor() as cur:
                cur.execute("select 2")
                print("after:", cur.fetchone()[0])
    """)
    result = project.run("python", "work:main", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "'default'" in lines[0], lines
    assert lines[1] == "after: 2"


def test_plain_python_engine_uses_dedicated_connections(tmp_path):
    # Outside puff the engine behaves like Django's own: no pool, one server connection each.
    import subprocess
    import sys
    import textwrap
    u = urlparse(URL)
    (tmp_path / "settings.py").write_text(textwrap.dedent(f"""
        SECRET_KEY = "test"
        USE_TZ = True
        DATABASES = {{"default": {{
            "ENGINE": "django_puff.db.backends.postgresql",
            "NAME": {u.path.lstrip('/')!r}, "USER": {u.username!r}, "HOST": {u.hostname!r},
            "PORT": {u.port!r}}}}}
    """))
    code = textwrap.dedent("""
        import django
        django.setup()
        from django.db import connection
        with connection.cursor() as cur:
            cur.execute("select current_setting('TimeZone'), 1 + 1")
            print(cur.fetchone())
        print(connection.connection._pooled)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "settings",
                                 "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["('UTC', 2)", "False"]


def test_killed_server_connections_fail_in_flight_queries_then_recover(project):
    # The server side of every pooled connection goes away mid-query (as in a restart): the
    # queries in flight fail with OperationalError, the next ones get fresh connections.
    env = django_project(project, pool='{"max_size": 4}', app_name="puff-fault-test")
    project.write("work.py", f"""
        import django, psycopg2, puff
        from django.db import connection, OperationalError

        def slow():
            try:
                with connection.cursor() as cur:
                    cur.execute("select pg_sleep(10)")
                return "no error"
            except OperationalError as e:
                return type(e).__name__

        def main():
            django.setup()
            tasks = [puff.spawn(slow) for _ in range(4)]
            puff.sleep(0.5)
            killer = psycopg2.connect({URL!r})
            killer.autocommit = True
            killer.cursor().execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = 'puff-fault-test'")
            killer.close()
            print(sorted(puff.join_all(tasks)))
            def fresh():
                with connection.cursor() as cur:
                    cur.execute("select 42")
                    return cur.fetchone()[0]
            print(puff.join_all([puff.spawn(fresh) for _ in range(8)]))
    """)
    result = project.run("python", "work:main", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == str(["OperationalError"] * 4), lines  # Django's wrapper class
    assert lines[1] == str([42] * 8)


def test_bad_pool_options_are_one_clear_error(project):
    env = django_project(project, pool='{"max_size": 0}')
    project.write("work.py", """
        import django
        from django.db import connection

        def main():
            django.setup()
            connection.cursor()
    """)
    result = project.run("python", "work:main", env=env, timeout=60)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "max_size >= 1" in result.stderr


def test_greenlets_copy_concurrently_on_pooled_connections_while_others_query(project):
    env = django_project(project, pool='{"max_size": 6}', app_name="puff-copy-test")
    project.write("work.py", """
        import io, json
        import django, puff
        from django.db import connection, transaction
        from psycopg2 import _psycopg

        state = {"copying": 0, "done": False}

        def copier(i):
            rows = "".join("%d\\t%d\\t%s\\n" % (i, n, chr(0x41 + i) * 200) for n in range(5000))
            state["copying"] += 1
            try:
                with transaction.atomic():
                    with connection.cursor() as cur:
                        cur.copy_expert("COPY copies (task, n, body) FROM STDIN",
                                        io.StringIO(rows), size=16384)
                        loaded = cur.rowcount
                out = io.StringIO()
                with connection.cursor() as cur:
                    cur.copy_expert("COPY (SELECT task, n, body FROM copies WHERE task = %d "
                                    "ORDER BY n) TO STDOUT" % i, out)
                    sent = cur.rowcount
            finally:
                state["copying"] -= 1
            return [loaded, sent, out.getvalue() == rows]

        def broken():
            class Broken(io.TextIOBase):
                def read(self, size=-1):
                    puff.sleep(0.01)
                    raise ValueError("broken source")
            try:
                with transaction.atomic():
                    with connection.cursor() as cur:
                        cur.copy_expert("COPY copies (task, n, body) FROM STDIN", Broken())
            except Exception as e:
                return [type(e).__name__, type(e.__cause__).__name__]
            return "no error"

        def ticker():
            during = total = 0
            while not state["done"]:
                with connection.cursor() as cur:
                    cur.execute("select 1")
                total += 1
                during += state["copying"] > 0
                puff.sleep(0.001)
            return [during, total]

        def main():
            django.setup()
            with connection.cursor() as cur:
                cur.execute("drop table if exists copies")
                cur.execute("create table copies (task int, n int, body text)")
            tick = puff.spawn(ticker)
            results = puff.join_all([puff.spawn(copier, i) for i in range(8)] +
                                    [puff.spawn(broken)])
            state["done"] = True
            during, total = tick.join()
            with connection.cursor() as cur:
                cur.execute("select count(*), count(distinct task) from copies")
                counts = cur.fetchone()
                cur.execute("drop table copies")
            pool = [p for p in _psycopg.pool_stats() if p["name"] == "default"][0]
            print(json.dumps({"results": results, "during": during, "total": total,
                              "counts": counts, "in_use": pool["in_use"],
                              "size": pool["size"]}))
    """)
    result = project.run("python", "work:main", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)
    assert report["results"][:8] == [[5000, 5000, True]] * 8
    assert report["results"][8] == ["QueryCanceled", "ValueError"]
    assert report["counts"] == [40000, 8]
    # The ticker's queries ran while copies were in flight: COPY waits let other greenlets run.
    assert report["during"] > 0, report
    assert report["in_use"] == 0 and report["size"] <= 6
