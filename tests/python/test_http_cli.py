"""`puff runserver` as a command: finding the application, one-line errors and exit codes,
unix sockets, and the graceful stop on SIGTERM/SIGINT."""
import concurrent.futures
import json
import signal
import socket
import time

import pytest

from http_support import Reader, RunningServer, exchange, request_bytes


def wait_for_slow_request(server):
    """Until /slow has started (its greenlet is sleeping): the request is in flight."""
    import json
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stats = json.loads(exchange(server, "GET", "/stats").body)
        if stats["arrivals"].get("slow"):
            return
        time.sleep(0.01)
    raise AssertionError("/slow never started")


def run(project, *args, env=None):
    return project.run("runserver", *args, env=env, timeout=30)


def test_missing_module_attribute_and_bad_spec_are_one_line(project):
    result = run(project, "--bind", "127.0.0.1:0", "--wsgi", "nosuchmodule:app")
    assert result.returncode == 1
    assert result.stderr.startswith("puff runserver: no module named 'nosuchmodule'")
    assert len(result.stderr.splitlines()) == 1
    project.write("app.py", "application = None\ndef real(environ, start_response): pass\n")
    result = run(project, "--bind", "127.0.0.1:0", "--wsgi", "app:missing")
    assert (result.returncode, result.stderr) == (
        1, "puff runserver: module 'app' has no attribute 'missing'\n")
    result = run(project, "--bind", "127.0.0.1:0", "--wsgi", "app.application")
    assert (result.returncode, result.stderr) == (
        1, "puff runserver: 'app:application' is not callable\n")
    result = run(project, "--bind", "127.0.0.1:0", "--wsgi", "app")
    assert result.returncode == 1
    assert "--wsgi expects MODULE:APP or module.path.app" in result.stderr


def test_an_app_that_fails_to_import_shows_its_traceback(project):
    project.write("broken.py", "raise ImportError('the app cannot start')\n")
    result = run(project, "--bind", "127.0.0.1:0", "--wsgi", "broken:app")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ImportError: the app cannot start" in result.stderr


def test_no_application_configured_is_a_usage_error(project):
    result = run(project)
    assert result.returncode == 2
    assert result.stderr.startswith("puff runserver: no WSGI application; pass --wsgi")


@pytest.mark.parametrize("args, message", [
    (["--bind", "nonsense"], "puff runserver: --bind: "),
    (["--workers", "0", "--wsgi", "x:y"], "--workers: must be 1..256, got 0"),
    (["--access-log", "fancy", "--wsgi", "x:y"], "--access-log: must be one of common, json"),
    (["--header-timeout", "0", "--wsgi", "x:y"], "--header-timeout: must be a number of seconds"),
    (["--max-body-bytes", "0", "--wsgi", "x:y"], "--max-body-bytes: must be 1.."),
    (["--max-active-requests", "-1", "--wsgi", "x:y"],
     "--max-active-requests: must be 0..1000000, got -1"),
    (["--max-header-fields", "0", "--wsgi", "x:y"], "--max-header-fields: must be 1..65536, got 0"),
])
def test_bad_flags_exit_2_with_one_line(project, args, message):
    result = run(project, *args)
    assert result.returncode == 2, result
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_port_in_use_is_one_line_and_exit_1(project):
    project.write("app.py", "def app(environ, start_response): pass\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(project, "--bind", f"127.0.0.1:{port}", "--wsgi", "app:app")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"puff runserver: cannot listen on 127.0.0.1:{port}: "
                                     "Address already in use")


def test_wsgi_from_puff_toml_and_environment(project, puff_bin):
    project.write("hello_app.py", """
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"from " + environ["PATH_INFO"].encode()]
        """)
    project.write("puff.toml", 'wsgi = "hello_app.app"\n[http]\nbind = "127.0.0.1:0"\n')
    with RunningServer(puff_bin, cwd=project.path) as server:
        assert exchange(server, "GET", "/toml").body == b"from /toml"


def test_unix_socket(project, puff_bin, tmp_path):
    path = tmp_path / "puff.sock"
    with RunningServer(puff_bin, "--bind", f"unix:{path}",
                       "--wsgi", "wsgi_apps.apps:app") as server:
        assert server.unix_path == str(path)
        import json
        env = json.loads(exchange(server, "GET", "/env?u=1").body)
        assert (env["QUERY_STRING"], env["SERVER_NAME"], env["REMOTE_ADDR"]) == ("u=1",
                                                                                 "localhost", "")
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
        assert not path.exists()  # the socket file is removed on exit


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_finishes_requests_in_flight_then_exits_0(puff_bin, signum):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app") as server:
        sock = server.connect()
        sock.sendall(request_bytes("GET", "/slow?0.5"))
        wait_for_slow_request(server)
        server.signal(signum)
        response = Reader(sock).response()
        assert (response.status, response.body) == (200, b"slow done")
        assert response.header("Connection") == "close"
        sock.close()
        assert server.wait() == 0
        log = server.log()
        assert "stopping: no new connections" in log and "puff runserver: stopped" in log
        with pytest.raises(OSError):
            server.connect(timeout=1)


def test_second_signal_stops_at_once(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--graceful-timeout", "60") as server:
        sock = server.connect()
        sock.sendall(request_bytes("GET", "/slow?30"))
        wait_for_slow_request(server)
        server.signal(signal.SIGINT)
        assert server.wait_for_log("stopping: no new connections")
        server.signal(signal.SIGINT)
        assert server.wait(timeout=15) == 130
        assert "stopping now (second signal)" in server.log()
        sock.close()


def test_forwarded_headers_only_from_trusted_proxies(puff_bin, project):
    import json
    headers = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")]
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--trusted-proxy", "127.0.0.0/8") as trusting:
        env = json.loads(exchange(trusting, "GET", "/env", headers).body)
        assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("203.0.113.9", "https")
        env = json.loads(exchange(trusting, "GET", "/env").body)
        assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("127.0.0.1", "http")
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--trusted-proxy", "10.0.0.1") as untrusting:
        env = json.loads(exchange(untrusting, "GET", "/env", headers).body)
        assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("127.0.0.1", "http")
        assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"  # still visible, just not believed
    result = project.run("runserver", "--wsgi", "x:y", "--trusted-proxy", "proxy.local")
    assert result.returncode == 2
    assert "--trusted-proxy: \"proxy.local\" is not an IP address or CIDR range" in result.stderr


def test_a_request_arriving_during_the_stop_is_still_answered(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi",
                       "wsgi_apps.apps:app") as server:
        sock = server.connect()
        sock.sendall(b"GET /env/late HTTP/1.1\r\nHost: x\r\n")  # half a head
        exchange(server, "GET", "/pid")  # by now the half head is read or in the socket buffer
        server.signal(signal.SIGTERM)
        assert server.wait_for_log("stopping: no new connections")
        sock.sendall(b"\r\n")
        response = Reader(sock).response()
        assert response.status == 200 and response.header("Connection") == "close"
        assert b'"PATH_INFO": "/env/late"' in response.body
        sock.close()
        assert server.wait() == 0



def concurrent_active_requests(server, count, seconds):
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        bodies = list(pool.map(lambda _: exchange(server, "GET", f"/active?{seconds}").body,
                               range(count)))
    elapsed = time.monotonic() - started
    return bodies, elapsed, json.loads(exchange(server, "GET", "/stats").body)["peak_running"]


@pytest.mark.parametrize("limit, count, seconds, peak, turns", [
    ("3", 12, 0.2, 3, 4),  # the others waited their turn
    ("0", 100, 0.3, 100, 1),  # no limit: all at once
])
def test_max_active_requests_bounds_the_running_requests_and_serves_them_all(
        puff_bin, limit, count, seconds, peak, turns):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--max-active-requests", limit) as server:
        bodies, elapsed, seen = concurrent_active_requests(server, count, seconds)
        assert bodies == [b"active done"] * count
        assert seen == peak
        assert elapsed >= turns * seconds - 0.05


def test_a_queued_request_whose_client_left_is_not_run(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--max-active-requests", "1") as server:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            running = pool.submit(exchange, server, "GET", "/active?1.0")  # holds the slot
            time.sleep(0.2)
            staying = pool.submit(exchange, server, "GET", "/barrier?stayed:1")
            leaving = [server.connect() for _ in range(5)]
            for sock in leaving:
                sock.sendall(request_bytes("GET", "/barrier?left:1"))
            time.sleep(0.2)  # parsed and queued behind /active
            for sock in leaving:
                sock.close()  # gave up waiting
            assert running.result().body == b"active done"
            assert staying.result().body == b"passed"
        arrivals = json.loads(exchange(server, "GET", "/stats").body)["arrivals"]
        assert arrivals.get("stayed") == 1 and "left" not in arrivals, arrivals
        assert exchange(server, "GET", "/env").status == 200
    log = server.log()  # the first at once, the others as a count when the server stops
    assert "1 request not run: the client closed the connection while the request" in log
    assert "4 requests not run: the client closed the connection" in log, log


def test_a_queued_request_still_gets_its_answer_at_the_request_timeout(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--max-active-requests", "1", "--request-timeout", "0.5") as server:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            running = pool.submit(exchange, server, "GET", "/active?1.5")
            time.sleep(0.2)
            queued = pool.submit(exchange, server, "GET", "/env")
            assert queued.result().status == 503
            assert running.result().status == 503  # its response had not begun after 0.5 s
        time.sleep(1.0)  # the application's own request ends (1.5 s), its slot frees
        assert exchange(server, "GET", "/env").status == 200


def test_the_stop_answers_the_connections_waiting_in_the_listen_backlog(puff_bin):
    # With max_connections reached, new connections wait in the kernel's backlog (accepted by
    # the kernel, requests sent). The stop takes and answers them rather than resetting them.
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--max-connections", "2") as server:
        holding = [server.connect() for _ in range(2)]
        for sock in holding:
            sock.sendall(request_bytes("GET", "/slow?1.0"))
        time.sleep(0.3)  # both accepted and running: the server holds 2 connections
        waiting = [server.connect() for _ in range(3)]
        for index, sock in enumerate(waiting):
            sock.sendall(request_bytes("GET", f"/env/backlog{index}"))
        time.sleep(0.2)
        server.signal(signal.SIGTERM)
        for sock in holding:
            response = Reader(sock).response()
            assert (response.status, response.body) == (200, b"slow done")
        for index, sock in enumerate(waiting):
            response = Reader(sock).response()
            assert response.status == 200 and response.header("Connection") == "close"
            assert f'"PATH_INFO": "/env/backlog{index}"'.encode() in response.body
        for sock in holding + waiting:
            sock.close()
        assert server.wait() == 0


def test_the_stop_does_not_wait_for_request_objects_the_application_kept(puff_bin):
    # Django's request objects sit in reference cycles until the next gc pass, with wsgi.input
    # in them: the stop waited for the collector (the whole graceful timeout) before.
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--graceful-timeout", "30") as server:
        assert exchange(server, "GET", "/keep").body == b"kept"
        late = exchange(server, "GET", "/keep?read").body
        assert late == b"ClientDisconnected: this request has ended: its input and response " \
                       b"can no longer be used"
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
        assert time.monotonic() - started < 10
