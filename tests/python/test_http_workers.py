"""`puff runserver --workers N`: a supervisor and N worker processes on one listening socket.
A killed worker is replaced, SIGHUP replaces them all without dropping a request in flight,
SIGTERM drains every worker and exits 0; both also under load (6 keep-alive clients sending
without pause: no partial response, no error status, only idle connections closed)."""
import json
import os
import signal
import threading
import time

import pytest

from http_support import Reader, RunningServer, closed_by_peer, exchange, request_bytes


def worker_pids(server, at_least, timeout=15):
    """The pids answering /pid, sampled over new connections until `at_least` are seen."""
    seen = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(seen) < at_least:
        seen.add(int(exchange(server, "GET", "/pid").body))
    return seen


def test_workers_share_the_socket_and_a_killed_one_is_replaced(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", "2") as server:
        assert "2 workers" in server.log()
        pids = worker_pids(server, 2)
        assert len(pids) == 2 and server.process.pid not in pids
        env = json.loads(exchange(server, "GET", "/env").body)
        assert env["wsgi.multiprocess"] is True
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        assert server.wait_for_log(
            f"(pid {victim}) was killed by signal Killed; starting a new one")
        new_pids = worker_pids(server, 2)
        assert victim not in new_pids and len(new_pids) == 2
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
        assert "puff runserver: stopped" in server.log()
        for worker in new_pids:
            assert not os.path.exists(f"/proc/{worker}") or \
                open(f"/proc/{worker}/stat").read().split()[2] == "Z"


def test_sighup_reloads_without_dropping_a_request_in_flight(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", "2") as server:
        before = worker_pids(server, 2)
        sock = server.connect()
        sock.sendall(request_bytes("GET", "/slow?1"))
        time.sleep(0.3)  # let a worker take it
        server.signal(signal.SIGHUP)
        response = Reader(sock).response()
        assert (response.status, response.body) == (200, b"slow done")
        sock.close()
        deadline = time.monotonic() + 15
        after = set()
        while time.monotonic() < deadline and not (len(after) == 2 and not after & before):
            after = worker_pids(server, 2, timeout=2)
        assert len(after) == 2 and not after & before, (before, after)
        assert "puff runserver: SIGHUP\n" in server.log()
        assert "puff runserver: reloading: starting new workers" in server.log()


def test_workers_that_fail_at_start_stop_the_supervisor(project, puff_bin):
    project.write("flaky.py", """
        import os
        def app(environ, start_response):
            pass
        os._exit(3)  # every worker dies while importing the application
        """)
    result = project.run("runserver", "--bind", "127.0.0.1:0", "--wsgi", "flaky:app",
                         "--workers", "2", timeout=60)
    assert result.returncode == 1
    # The first worker tried alone; the other was never started, nothing was announced.
    assert result.stderr.count("exited with code 3 before accepting connections") == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("spec, error", [
    ("nosuchmodule:app", "puff runserver: no module named 'nosuchmodule'"),
    ("broken:app", "ImportError: the app cannot start"),
])
def test_an_application_that_does_not_load_is_one_error_with_workers(project, spec, error):
    project.write("broken.py", "raise ImportError('the app cannot start')\n")
    result = project.run("runserver", "--bind", "127.0.0.1:0", "--wsgi", spec,
                         "--workers", "3", timeout=60)
    assert result.returncode == 1
    assert result.stderr.count(error) == 1, result.stderr
    assert result.stderr.count("Traceback") <= 1
    assert "serving" not in result.stderr and "starting a new one" not in result.stderr


def test_reload_serves_the_new_code_after_a_change(project, puff_bin):
    def version(text):
        project.write("app.py", f"""
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [{text!r}.encode()]
            """)

    def served(expected, timeout=20):
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            try:
                body = exchange(server, "GET", "/").body
            except OSError:
                body = None
            if body == expected:
                return True
            time.sleep(0.1)
        raise AssertionError(f"still serving {body!r}, not {expected!r}:\n{server.log()}")

    version("v1")
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "app:app", "--reload",
                       cwd=project.path) as server:
        assert "1 worker, reloading on changes" in server.log()
        served(b"v1")
        version("version two")
        served(b"version two")
        # Broken code: the new worker cannot start; the old one goes on until the next change.
        project.write("app.py", "def app(:\n")
        assert server.wait_for_log("the reload failed; the old workers keep serving until the "
                                   "next file change")
        assert server.log().count("SyntaxError") == 1
        assert exchange(server, "GET", "/").body == b"version two"
        version("v3")
        served(b"v3")
        server.signal(signal.SIGTERM)
        assert server.wait() == 0


class LoadClient(threading.Thread):
    """Keeps one keep-alive connection busy with GET /pid until told to stop, as wrk does: no
    retries. A response with `Connection: close` ends the connection cleanly (a new one
    follows); a connection closed or reset with a request unanswered, a partial response or a
    non-200 is a failure. A refused connection ends the client (`refused`: the server is
    stopping or gone)."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.answered, self.refused, self.failures, self.pids = 0, 0, [], set()

    def run(self):
        while not self.stop.is_set():
            try:
                sock = self.server.connect(timeout=10)
            except OSError:
                self.refused += 1
                return
            with sock:
                self._exchange_until_closed(sock)

    def _exchange_until_closed(self, sock):
        reader = Reader(sock)
        while not self.stop.is_set():
            try:
                sock.sendall(request_bytes("GET", "/pid"))
                status, _reason, headers, _raw = reader.head()
                fields = dict((k.lower(), v) for k, v in headers)
                body = reader.read_exact(int(fields["content-length"]))
            except (EOFError, OSError, KeyError) as error:
                self.failures.append(f"request lost: {error!r} after {reader.buffer[:60]!r}")
                return
            if status != 200:
                self.failures.append(f"status {status}")
                return
            self.answered += 1
            self.pids.add(int(body))
            if fields.get("connection") == "close":
                return


def run_load(server, clients=6):
    load = [LoadClient(server) for _ in range(clients)]
    for client in load:
        client.start()
    return load


def stop_load(load):
    for client in load:
        client.stop.set()
    for client in load:
        client.join(30)
    return (sum(c.answered for c in load), [f for c in load for f in c.failures],
            set().union(*(c.pids for c in load)), sum(c.refused for c in load))


def test_sighup_under_load_drops_nothing(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", "2", "--access-log", "off") as server:
        before = worker_pids(server, 2)
        load = run_load(server)
        time.sleep(0.7)
        server.signal(signal.SIGHUP)
        assert server.wait_for_log("reloading: starting new workers", timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
                {p for c in load for p in c.pids} - before):
            time.sleep(0.1)
        time.sleep(1.5)  # keep the load on while the old workers drain
        answered, failures, pids, refused = stop_load(load)
    assert not failures, failures[:5]
    assert refused == 0
    assert answered > 100 and pids - before, (answered, before, pids)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_under_load_answers_every_accepted_request(puff_bin, workers):
    server = RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                           "--workers", workers, "--access-log", "off")
    try:
        load = run_load(server)
        time.sleep(0.7)
        server.signal(signal.SIGTERM)
        code = server.wait(30)
        answered, failures, _pids, refused = stop_load(load)
    finally:
        server.stop()
    assert code == 0
    assert not failures, failures[:5]
    assert answered > 100 and refused == len(load)  # each ran until the server was gone


def idle_keep_alive_connections(server, count):
    """`count` connections, each with one request answered: idle, kept alive."""
    socks = [server.connect() for _ in range(count)]
    pids = set()
    for sock in socks:
        sock.sendall(request_bytes("GET", "/pid"))
        pids.add(int(Reader(sock).response().body))
    return socks, pids


def wait_until_workers_stop(server, count, timeout=20):
    """Until `count` workers have begun their stop (the line each prints)."""
    deadline = time.monotonic() + timeout
    while server.log().count("stopping: no new connections") < count:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.005)


def assert_answered_then_closed(socks, target):
    for sock in socks:
        sock.sendall(request_bytes("GET", target))
    for sock in socks:
        response = Reader(sock).response()
        assert response.status == 200 and response.header("Connection") == "close"
        assert closed_by_peer(sock)
        sock.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_request_sent_as_the_stop_begins_on_an_idle_connection_is_answered(puff_bin, workers):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", workers) as server:
        socks, _pids = idle_keep_alive_connections(server, 8)
        server.signal(signal.SIGTERM)
        wait_until_workers_stop(server, int(workers))
        # Sent after every worker began its stop (as if on the wire already): answered.
        assert_answered_then_closed(socks, "/pid")
        assert server.wait() == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_new_connections_after_the_stop_are_refused_not_held(puff_bin, workers):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", workers) as server:
        socks = [server.connect() for _ in range(int(workers) * 2)]
        for sock in socks:
            sock.sendall(request_bytes("GET", "/slow?3"))  # the workers drain for 3 s
        time.sleep(0.5)
        server.signal(signal.SIGTERM)
        wait_until_workers_stop(server, int(workers))
        started = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            server.connect(timeout=10).close()
        assert time.monotonic() - started < 2.5  # refused at the client's first retry
        for sock in socks:
            assert Reader(sock).response().body == b"slow done"
            sock.close()
        assert server.wait() == 0


def test_sighup_answers_the_requests_sent_to_the_old_workers_as_they_stop(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", "2") as server:
        worker_pids(server, 2)
        socks, old = idle_keep_alive_connections(server, 8)
        server.signal(signal.SIGHUP)
        wait_until_workers_stop(server, 2)  # the old ones, once both new ones accept
        assert_answered_then_closed(socks, "/pid")
        assert not worker_pids(server, 2) & old


def pids_of_connections(server, count):
    """Opens `count` connections at once, then asks each which worker took it."""
    socks = [server.connect() for _ in range(count)]
    try:
        for sock in socks:
            sock.sendall(request_bytes("GET", "/pid"))
        return [int(Reader(sock).response().body) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def test_a_burst_of_connections_is_shared_out_between_the_workers(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", "2") as server:
        workers = worker_pids(server, 2)  # both accept
        idle_fds = {pid: len(os.listdir(f"/proc/{pid}/fd")) for pid in workers}
        for burst in range(3):
            pids = pids_of_connections(server, 60)
            counts = sorted(pids.count(pid) for pid in set(pids))
            assert len(counts) == 2 and counts[1] - counts[0] <= 6, (burst, counts)
            # The workers share by open connections: the next burst starts once both have
            # closed this one's (a worker still closing its 30 would rightly take fewer).
            deadline = time.monotonic() + 10
            while any(len(os.listdir(f"/proc/{pid}/fd")) > fds for pid, fds in idle_fds.items()):
                assert time.monotonic() < deadline, "the workers kept the closed connections"
                time.sleep(0.01)


def wait_until_stopped(pid):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = [open(f"/proc/{pid}/task/{task}/stat").read().rsplit(")", 1)[1].split()[0]
                  for task in os.listdir(f"/proc/{pid}/task")]
        if all(state in "tT" for state in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"worker {pid} did not stop")


def test_a_stopped_worker_does_not_hold_up_new_connections(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--workers", "2") as server:
        stopped, running = sorted(worker_pids(server, 2))
        os.kill(stopped, signal.SIGSTOP)  # fewer connections than the other, forever
        try:
            wait_until_stopped(stopped)  # a thread in a syscall (accept) stops on its way out
            started = time.monotonic()
            assert set(pids_of_connections(server, 10)) == {running}
            assert time.monotonic() - started < 5
        finally:
            os.kill(stopped, signal.SIGCONT)
