"""10,000 concurrent keep-alive connections on one worker, each served (twice), zero errors;
the server's memory per idle connection is measured and bounded."""
import resource
import socket

import pytest

from http_support import Reader, RunningServer, request_bytes

CONNECTIONS = 10_000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def many_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = CONNECTIONS + 500
    if hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))  # the server inherits it
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_ten_thousand_keep_alive_connections_on_one_worker(puff_bin, many_fds):
    server = RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                           "--keepalive-timeout", "600", "--max-connections", "20000",
                           "--access-log", "off")
    sockets = []
    try:
        request = request_bytes("GET", "/pid")
        expected = None
        warm = socket.create_connection(("127.0.0.1", server.port))
        warm.sendall(request)
        expected = Reader(warm).response().body
        warm.close()
        rss_before = rss_kib(server.process.pid)
        errors = 0
        for _batch_start in range(0, CONNECTIONS, 500):  # batches stay within the listen backlog
            batch = [socket.create_connection(("127.0.0.1", server.port), timeout=30)
                     for _ in range(500)]
            for sock in batch:
                sock.sendall(request)
            for sock in batch:
                response = Reader(sock).response()
                errors += response.status != 200 or response.body != expected
            sockets += batch
        assert errors == 0
        rss_idle = rss_kib(server.process.pid)
        per_connection = (rss_idle - rss_before) * 1024 / CONNECTIONS
        print(f"\n{CONNECTIONS} idle keep-alive connections: server RSS {rss_before} KiB -> "
              f"{rss_idle} KiB, {per_connection:.0f} bytes per connection")
        # Each is still open and served again on the same connection.
        for sock in sockets:
            sock.sendall(request)
        for sock in sockets:
            response = Reader(sock).response()
            errors += response.status != 200 or response.header("Connection") == "close"
        assert errors == 0
        assert per_connection < 16 * 1024, per_connection
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def test_max_connections_holds_the_rest_in_the_backlog(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--max-connections", "2", "--keepalive-timeout", "60") as server:
        first, second = server.connect(), server.connect()
        for sock in (first, second):
            sock.sendall(request_bytes("GET", "/pid"))
            assert Reader(sock).response().status == 200
        third = server.connect()  # the kernel completes the handshake; puff does not accept
        third.sendall(request_bytes("GET", "/env/third"))
        third.settimeout(0.5)
        with pytest.raises(socket.timeout):
            third.recv(1)
        first.close()  # a slot frees: the third is accepted and served
        third.settimeout(10)
        assert b"/env/third" in Reader(third).response().body
        second.close()
        third.close()
