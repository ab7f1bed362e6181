"""`puff runserver` serving examples/hello (a copy, with its own database on the throwaway
PostgreSQL): the application comes from puff.toml's django_settings, views hit the database
through the pooled engine, and 50 concurrent requests stay within the pool's 10 connections."""
import concurrent.futures
import json

from http_support import RunningServer, exchange
from test_django_command import example  # noqa: F401  (the fixture: a copy + a database)


def test_runserver_serves_the_django_example_within_the_pool(example, puff_bin):  # noqa: F811
    assert example.puff("migrate").returncode == 0
    assert example.puff("seed_worlds", "--count", "20").returncode == 0
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", cwd=example.path, env={
                       "PUFF_EXAMPLE_DATABASE_URL": example.database_url}) as server:
        assert "serving the Django project on http://127.0.0.1:" in server.log()
        hello = exchange(server, "GET", "/json/", host="localhost")
        assert hello.status == 200 and json.loads(hello.body) == {"message": "Hello, World!"}
        assert hello.header("Content-Type") == "application/json"

        def fetch(_):
            response = exchange(server, "GET", "/db/", host="localhost")
            return response.status, json.loads(response.body)

        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            results = list(pool.map(fetch, range(200)))
        assert all(status == 200 for status, _ in results), results[:3]
        assert all(1 <= body["id"] <= 20 for _, body in results)
        assert exchange(server, "GET", "/worlds/count/", host="localhost").body == b'{"count": 20}'

        backends = example.query(
            "select state from pg_stat_activity where datname = current_database() "
            "and pid <> pg_backend_pid()")
        # puff.toml's [[postgres]] default has max_size = 10; every connection went back to
        # the pool at the end of its request (none left inside a transaction).
        assert 1 <= len(backends) <= 10, backends
        assert all(state == "idle" for (state,) in backends), backends
        missing = exchange(server, "GET", "/nope/", host="localhost")
        assert missing.status == 404
    assert server.process.returncode == 0
    assert "Traceback" not in server.log()
