"""`puff runserver` serving examples/hello (a copy, with its own database on the throwaway
PostgreSQL): the application comes from puff.toml's django_settings, views hit the database
through the pooled engine, and 50 concurrent requests stay within the pool's 10 connections;
the template page, the admin (log in, change a row) and the static files served natively."""
import concurrent.futures
import json
import re
import urllib.parse

import pytest

from http_support import RunningServer, exchange
from test_django_command import example  # noqa: F401  (the fixture: a copy + a database)


def set_up(project):
    assert project.puff("migrate").returncode == 0
    assert project.puff("seed_worlds", "--count", "20").returncode == 0
    # Into STATIC_ROOT, which puff.toml's [http] static serves (it must exist).
    assert project.puff("collectstatic", "--no-input").returncode == 0


def test_runserver_serves_the_django_example_within_the_pool(example, puff_bin):  # noqa: F811
    set_up(example)
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


def cookies_of(response, jar):
    for name, value in response.headers:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key] = rest.split(";", 1)[0]
    return jar


def cookie_header(jar):
    return [("Cookie", "; ".join(f"{k}={v}" for k, v in jar.items()))]


@pytest.mark.slow
def test_the_example_pages_admin_and_static_files(example, puff_bin):  # noqa: F811
    set_up(example)
    env = {"DJANGO_SUPERUSER_PASSWORD": "example-pw"}
    assert example.puff("createsuperuser", "--noinput", "--username", "admin",
                        "--email", "admin@example.com", env=env).returncode == 0
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", cwd=example.path, env={
                       "PUFF_EXAMPLE_DATABASE_URL": example.database_url}) as server:
        def get(target, jar=None):
            return exchange(server, "GET", target, cookie_header(jar) if jar else (),
                            host="localhost")

        index = get("/")
        assert index.status == 200 and b"<h1>20 worlds</h1>" in index.body
        css = get("/static/worlds/site.css")  # puff.toml's [http] static, not Django
        assert css.status == 200 and css.header("Content-Type").startswith("text/css")
        assert css.header("ETag") and b"font-family" in css.body
        assert get("/static/admin/css/base.css").status == 200

        # The admin: log in with the CSRF token of the login form, then change a row.
        login = get("/admin/login/")
        jar = cookies_of(login, {})
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', login.body).group(1)
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.decode(), "username": "admin",
                                       "password": "example-pw", "next": "/admin/"}).encode()
        logged_in = exchange(server, "POST", "/admin/login/", [
            ("Content-Type", "application/x-www-form-urlencoded"), *cookie_header(jar)],
            form, host="localhost")
        assert (logged_in.status, logged_in.header("Location")) == (302, "/admin/")
        cookies_of(logged_in, jar)
        listing = get("/admin/worlds/world/", jar)
        assert listing.status == 200 and b"20 worlds" in listing.body
        change = get("/admin/worlds/world/1/change/", jar)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', change.body).group(1)
        saved = exchange(server, "POST", "/admin/worlds/world/1/change/", [
            ("Content-Type", "application/x-www-form-urlencoded"), *cookie_header(jar)],
            urllib.parse.urlencode({"csrfmiddlewaretoken": token.decode(),
                                    "randomnumber": "4321"}).encode(), host="localhost")
        assert saved.status == 302, saved.body[:500]
    assert example.query("select randomnumber from world where id = 1") == [(4321,)]
    assert server.process.returncode == 0, server.log()[-3000:]
    assert "Traceback" not in server.log()
