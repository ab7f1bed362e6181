"""`puff runserver` and bad input over real sockets: malformed requests, limits (431/413),
invalid chunked bodies, slowloris, responses the application gets wrong, errors before and
after start_response, and no leaked file descriptors."""
import json
import socket
import time

import pytest

from http_support import Reader, RunningServer, chunked, closed_by_peer, exchange, request_bytes


@pytest.fixture
def server(puff_bin):
    running = RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                            "--max-header-bytes", "2048", "--max-body-bytes", "1000",
                            "--header-timeout", "1", "--keepalive-timeout", "2")
    yield running
    running.stop()


def raw(server, data):
    """Sends `data` on a new connection; returns (response, closed afterwards)."""
    with server.connect() as sock:
        sock.sendall(data)
        reader = Reader(sock)
        response = reader.response()
        rest = reader.read_to_eof() if response.header("Connection") == "close" else None
        return response, rest


@pytest.mark.parametrize("line", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"G\x01T / HTTP/1.1\r\n\r\n",
])
def test_malformed_requests_get_400_and_the_connection_closes(server, line):
    response, rest = raw(server, line)
    assert response.status == 400, response
    assert response.header("Connection") == "close"
    assert rest == b""


def test_oversized_headers_get_431(server):
    response, rest = raw(server, request_bytes("GET", "/env", [("X-Big", "y" * 4000)]))
    assert response.status == 431 and rest == b""
    # A huge request line too.
    response, _ = raw(server, request_bytes("GET", "/" + "a" * 5000))
    assert response.status == 431


def test_oversized_bodies_get_413(server):
    # Declared too large: answered at once, the application never runs.
    response, rest = raw(server, request_bytes("POST", "/echo", body=b"x" * 1001))
    assert response.status == 413 and rest == b""
    # Chunked, too large only once the chunks add up.
    response, _ = raw(server, request_bytes("POST", "/echo?all", [("Transfer-Encoding",
                                                                   "chunked")])
                      + chunked(b"a" * 600, b"b" * 600))
    assert response.status == 413
    # At the limit is fine.
    response, _ = raw(server, request_bytes("POST", "/echo?all", body=b"x" * 1000))
    assert response.status == 200 and response.body == b"x" * 1000 + b"|eof=b''"


@pytest.mark.parametrize("body", [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n",
                                  b"-1\r\n\r\n"])
def test_invalid_chunked_body_gets_400(server, body):
    response, rest = raw(server, request_bytes("POST", "/echo?all",
                                               [("Transfer-Encoding", "chunked")]) + body)
    assert response.status == 400, response
    assert rest == b""


def test_header_injection_from_the_app_is_a_500(server):
    response = exchange(server, "GET", "/inject_header")
    assert response.status == 500
    assert response.header("Set-Cookie") is None and response.header("X-Evil") is None
    assert server.wait_for_log("invalid response head: control character")


def test_invalid_status_line_and_str_body_are_500s(server):
    assert exchange(server, "GET", "/bad_status").status == 500
    assert server.wait_for_log('invalid status line: expected "NNN Reason", got "OK"')
    assert exchange(server, "GET", "/str_body").status == 500
    assert server.wait_for_log("response body chunks must be bytes, got str")


def test_app_raising_before_start_response_is_a_500_and_the_connection_survives(server):
    with server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(request_bytes("GET", "/raise_before"))
        response = reader.response()
        assert (response.status, response.body) == (500, b"Internal Server Error\n")
        assert response.header("Connection") is None
        sock.sendall(request_bytes("GET", "/raise_after_start"))
        assert reader.response().status == 500
        sock.sendall(request_bytes("GET", "/env/still-ok"))
        assert json.loads(reader.response().body)["PATH_INFO"] == "/env/still-ok"
    # The log trails the responses: wait for the last failure's line, not only the first's.
    assert server.wait_for_log("RuntimeError: after start_response, before the body")
    log = server.log()
    assert "ZeroDivisionError: division by zero" in log
    assert "GET /raise_before: the application failed; answered 500" in log
    assert "Traceback (most recent call last)" in log


def test_slowloris_is_dropped_at_header_timeout_while_others_are_served(server):
    slow = server.connect()
    slow.sendall(b"GET /env HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    dropped = False
    served = 0
    while time.monotonic() - started < 5:
        try:
            slow.sendall(b"X-Trickle: y\r\n")
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
        assert exchange(server, "GET", "/env").status == 200  # others are served meanwhile
        served += 1
        slow.settimeout(0.2)
        try:
            if slow.recv(100) == b"":
                dropped = True
                break
        except TimeoutError:
            pass
        except ConnectionResetError:
            dropped = True
            break
    slow.close()
    assert dropped, "the trickling client was never dropped"
    assert served >= 2
    assert time.monotonic() - started < 4  # header_timeout is 1 s


def test_idle_keep_alive_connections_are_closed(server):
    with server.connect() as sock:
        sock.sendall(request_bytes("GET", "/env"))
        assert Reader(sock).response().status == 200
        assert closed_by_peer(sock, timeout=6)  # keepalive_timeout is 2 s


def test_client_disconnects_leak_no_file_descriptors(server):
    def settle(baseline):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.fd_count() > baseline:
            time.sleep(0.05)
        return server.fd_count()

    exchange(server, "GET", "/env")  # warm up (lazy imports, pools)
    baseline = settle(server.fd_count())
    for i in range(60):
        sock = server.connect()
        kind = i % 6
        if kind == 0:  # a normal request
            sock.sendall(request_bytes("GET", "/env"))
            Reader(sock).response()
        elif kind == 1:  # half a head, then gone
            sock.sendall(b"GET /env HTTP/1.1\r\nHo")
        elif kind == 2:  # half a body, then gone
            sock.sendall(request_bytes("POST", "/echo?all", [("Content-Length", "500")]) + b"x")
        elif kind == 3:  # gone in the middle of a streamed response
            sock.sendall(request_bytes("GET", f"/endless?fd{i}"))
            Reader(sock).head()
        elif kind == 4:  # garbage
            sock.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        else:  # connect and say nothing
            pass
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    assert settle(baseline) <= baseline, sorted(
        __import__("os").listdir(f"/proc/{server.process.pid}/fd"))
    # Each streaming application notices its client is gone at its next chunk: close() follows.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        closed = json.loads(exchange(server, "GET", "/stats").body)["closed"]
        if sum(name.startswith("endless:fd") for name in closed) == 10:
            break
        time.sleep(0.05)
    assert sum(name.startswith("endless:fd") for name in closed) == 10


def test_request_and_body_timeouts(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--request-timeout", "0.3", "--idle-timeout", "0.5") as server:
        # The application does not start its response in time: the server answers 503.
        response = exchange(server, "GET", "/slow?1.5")
        assert (response.status, response.header("Connection")) == (503, "close")
        # The client stops sending its body: 408 once idle_timeout passes, then closed.
        with server.connect() as sock:
            sock.sendall(request_bytes("POST", "/echo?all", [("Content-Length", "100")])
                         + b"only part")
            response = Reader(sock).response()
            assert response.status == 408
            assert closed_by_peer(sock)
        assert server.wait_for_log("did not start its response within request_timeout_s")
        assert exchange(server, "GET", "/env").status == 200
