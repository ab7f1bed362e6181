"""Django on puff's driver inside the hub: pooled server connections, greenlets overlapping
their database waits, faults. Runs the real `puff` binary on the throwaway PostgreSQL server."""
import json
import os
from urllib.parse import urlparse

import pytest

from django_support import write_django_project

URL = os.environ.get("TEST_POSTGRES_URL")
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    not URL, reason="TEST_POSTGRES_URL not set (scripts/test sets it)")]


def django_project(project, pool='{"max_size": 10}', app_name="puff-pool-test"):
    return write_django_project(project, URL, pool=pool, app_name=app_name)


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


@pytest.mark.parametrize("pool, message", [
    ('{"max_size": 0}', "max_size >= 1"),
    ('{"statement_timeout": -1}', "statement_timeout must be a non-negative number"),
    ('{"acquire_timeout": 0}', "acquire_timeout must be a positive number"),
    ('{"max_sise": 3}', "unknown key(s) max_sise; allowed: name, min_size, max_size"),
])
def test_bad_pool_options_are_one_clear_error(project, pool, message):
    last = improperly_configured_line(project, django_project(project, pool=pool))
    assert message in last, last


def improperly_configured_line(project, env):
    """Runs a first query of the project's Django; returns the ImproperlyConfigured line."""
    project.write("work.py", """
        import django
        from django.db import connection

        def main():
            django.setup()
            connection.cursor()
    """)
    # No watchdog: on a loaded machine its stall report could print after the error.
    result = project.run("python", "work:main", env={**env, "PUFF_WATCHDOG_MS": "0"}, timeout=60)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    return last


def test_pool_stats_are_visible_during_and_after_a_run(project):
    env = django_project(project, pool='{"max_size": 5}', app_name="puff-stats-test")
    project.write("work.py", """
        import json
        import django, puff
        from django.db import connection, transaction

        def one():
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute("select pg_sleep(0.05)")

        def main():
            django.setup()
            samples = []
            done = []

            def watch():
                while not done:
                    samples.extend(p for p in puff.db_pool_stats() if p["name"] == "default")
                    puff.sleep(0.005)

            watcher = puff.spawn(watch)
            puff.join_all([puff.spawn(one) for _ in range(60)])
            done.append(1)
            watcher.join()
            print(json.dumps({"peak_in_use": max(s["in_use"] for s in samples),
                              "peak_waiting": max(s["waiting"] for s in samples),
                              "peak_size": max(s["size"] for s in samples),
                              "after": puff.db_pool_stats()}))
    """)
    result = project.run("python", "work:main", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)
    # 60 transactions on 5 connections: the pool was full and had a queue, never above max.
    assert report["peak_in_use"] == 5 and report["peak_size"] == 5, report
    assert report["peak_waiting"] > 0, report
    [after] = report["after"]
    assert after["name"] == "default" and after["max"] == 5
    assert after["in_use"] == 0 and after["waiting"] == 0 and after["opening"] == 0, after
    assert after["idle"] == after["size"] <= 5, after
    assert after["acquired_total"] >= 60 and after["timeouts_total"] == 0, after
    # Queued transactions waited about 11 rounds of 50 ms at worst.
    assert 0.03 < after["acquire_wait_max_s"] < 5, after
    assert after["acquire_wait_total_s"] >= after["acquire_wait_max_s"], after


def puff_toml_project(project, entries, databases):
    """settings.py with `databases` (alias -> OPTIONS source) on the shared server, and a
    puff.toml with `entries` ([[postgres]] bodies)."""
    u = urlparse(URL)
    project.write("puff.toml", "".join(
        f'[[postgres]]\nurl = "{URL}"\n{body}\n' for body in entries))
    dbs = ", ".join(
        f'''{alias!r}: {{"ENGINE": "django_puff.db.backends.postgresql",
            "NAME": {u.path.lstrip('/')!r}, "USER": {u.username!r}, "HOST": {u.hostname!r},
            "PORT": {u.port!r}, "OPTIONS": {options}}}''' for alias, options in databases.items())
    project.write("settings.py", f"""
        SECRET_KEY = "test"
        USE_TZ = True
        DATABASES = {{{dbs}}}
    """)
    return {"DJANGO_SETTINGS_MODULE": "settings"}


def test_puff_toml_postgres_entries_configure_the_engines_pools(project):
    env = puff_toml_project(project, [
        'name = "default"\nmax_size = 3\nmin_size = 2\nstatement_timeout = 0.2',
        'name = "reporting"\nmax_size = 2\nacquire_timeout = 0.4',
    ], {
        "default": "{}",                                          # alias = entry name
        "analytics": '{"pool": {"name": "reporting"}}',           # an entry picked by name
        "tuned": '{"pool": {"name": "reporting", "max_size": 6}}',  # OPTIONS wins
        "other": "{}",                                            # no entry: engine defaults
    })
    project.write("work.py", """
        import json, time
        import django, puff
        from django.db import connections, transaction, OperationalError

        def run(alias, sql):
            try:
                with connections[alias].cursor() as cur:
                    cur.execute(sql)
                    return cur.fetchone()[0]
            except OperationalError as e:
                return type(e.__cause__).__name__

        def hold(alias, release):
            with transaction.atomic(using=alias):
                run(alias, "select 1")
                while not release:
                    puff.sleep(0.01)

        def main():
            django.setup()
            report = {alias: run(alias, "show statement_timeout")
                      for alias in ("default", "analytics", "tuned", "other")}
            report["cancelled"] = run("default", "select pg_sleep(2)")
            # Both of reporting's connections held: the next one waits its acquire_timeout.
            release = []
            holders = [puff.spawn(hold, "analytics", release) for _ in range(2)]
            puff.sleep(0.2)
            started = time.monotonic()
            report["exhausted"] = [run("analytics", "select 1"), time.monotonic() - started]
            release.append(1)
            puff.join_all(holders)
            report["pools"] = sorted([p["name"], p["max"], p["min"]]
                                     for p in puff.db_pool_stats())
            report["config"] = puff.postgres_config()
            print(json.dumps(report))
    """)
    result = project.run("python", "work:main", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)
    assert report["default"] == "200ms"  # statement_timeout from the entry
    assert report["analytics"] == report["tuned"] == report["other"] == "0"
    assert report["cancelled"] == "QueryCanceled"
    kind, waited = report["exhausted"]
    assert kind == "OperationalError" and 0.3 < waited < 3, report  # reporting's 0.4 s
    # (name, max, min) of every pool: the entries' sizes (min_size 1 is [[postgres]]'s
    # default), OPTIONS' override of one key, the engine's defaults.
    assert report["pools"] == [["default", 3, 2], ["other", 10, 0], ["reporting", 2, 1],
                               ["reporting", 6, 1]], report
    assert report["config"]["reporting"]["acquire_timeout"] == 0.4
    assert report["config"]["default"]["min_size"] == 2
    assert report["config"]["default"]["implicit"] is False


def test_a_pool_name_without_a_puff_toml_entry_is_one_clear_error(project):
    env = puff_toml_project(project, ['name = "default"'],
                            {"default": '{"pool": {"name": "reportng"}}'})
    last = improperly_configured_line(project, env)
    assert "'reportng'" in last and "no [[postgres]] entry" in last and "default" in last, last


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


def test_a_greenlet_waits_for_notify_with_poll_while_others_run(project):
    # LISTEN on a dedicated connection in the hub: poll() reads without blocking the others.
    project.write("work.py", f"""
        import json
        import psycopg2, puff

        URL = {URL!r}

        def listener(ready):
            conn = psycopg2.connect(URL)
            conn.autocommit = True
            conn.cursor().execute("LISTEN hub_channel")
            ready.append(conn.get_backend_pid())
            for _ in range(500):
                conn.poll()
                if conn.notifies:
                    return [n.payload for n in conn.notifies]
                puff.sleep(0.01)
            return "no notification"

        def ticker(state):
            while not state["done"]:
                state["ticks"] += 1
                puff.sleep(0.005)

        def main():
            ready, state = [], {{"done": False, "ticks": 0}}
            waiting = puff.spawn(listener, ready)
            tick = puff.spawn(ticker, state)
            while not ready:
                puff.sleep(0.01)
            sender = psycopg2.connect(URL)
            sender.autocommit = True
            puff.sleep(0.1)
            sender.cursor().execute("NOTIFY hub_channel, 'from the hub'")
            payloads = waiting.join()
            state["done"] = True
            tick.join()
            print(json.dumps({{"payloads": payloads, "ticks": state["ticks"]}}))
    """)
    result = project.run("python", "work:main", timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["payloads"] == ["from the hub"], report
    assert report["ticks"] > 10, report  # the hub kept running other greenlets meanwhile
