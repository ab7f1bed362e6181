"""Slow clients cannot starve a worker: a request body is read ahead before the application
runs (body_buffer_bytes), a body slower than min_body_rate gets 408, and a request waiting on
a client that does not read its response does not count against max_active_requests. With 2
slots, slow clients several times that many leave other requests answered.
(tests/bench/slow_clients_bench.py measures it with 100 + 100 slow clients.)"""
import json
import select
import socket
import time

from http_support import Reader, RunningServer, exchange, request_bytes


def slots_server(puff_bin, *args):
    return RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                         "--max-active-requests", "2", *args)


def stats(server):
    return json.loads(exchange(server, "GET", "/stats").body)


def test_slow_request_bodies_do_not_take_the_slots(puff_bin):
    with slots_server(puff_bin) as server:
        slow = [server.connect() for _ in range(6)]
        for index, sock in enumerate(slow):
            body = f"body{index}-".encode() * 10
            sock.sendall(request_bytes("POST", "/echo?all", [("Content-Length", str(len(body)))])
                         + body[:7])  # the rest comes later
        time.sleep(0.3)
        # Three times the slots are waiting for their bodies: others are still answered.
        assert exchange(server, "GET", "/pid").status == 200
        for index, sock in enumerate(slow):
            body = f"body{index}-".encode() * 10
            sock.sendall(body[7:])
            assert Reader(sock).response().body == body + b"|eof=b''"
            sock.close()


def test_the_application_runs_once_the_body_is_in(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--body-buffer-bytes", "1000") as server:
        with server.connect() as sock:
            sock.sendall(request_bytes("POST", "/active?0.01", [("Content-Length", "300")])
                         + b"x" * 299)
            time.sleep(0.3)
            assert stats(server)["peak_running"] == 0  # not started: the body is not in
            sock.sendall(b"x")
            assert Reader(sock).response().body == b"active done"
        # Past body_buffer_bytes the application gets the request and reads the rest itself.
        with server.connect() as sock:
            sock.sendall(request_bytes("POST", "/echo?sized", [("Content-Length", "3000")])
                         + b"y" * 1500)
            time.sleep(0.3)
            sock.sendall(b"y" * 1500)
            assert Reader(sock).response().body == b"y" * 3000 + b"|eof=b''"


def test_a_body_cut_short_while_read_ahead_is_answered_at_once(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi",
                       "wsgi_apps.apps:app") as server, server.connect() as sock:
        sock.sendall(request_bytes("POST", "/echo?all", [("Content-Length", "100")]) + b"x" * 10)
        sock.shutdown(socket.SHUT_WR)  # no more body: the application never ran, the server says
        response = Reader(sock).response()
        assert response.status == 400, response
        assert b"before the end of the request body" in response.body


def answered(sock):
    """Whether response bytes (or the close) wait on `sock`, without reading them."""
    return bool(select.select([sock], [], [], 0)[0])


def test_a_body_slower_than_min_body_rate_gets_408(puff_bin):
    # --idle-timeout 2: the rate is measured over 2 s (at most 10 s).
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--min-body-rate", "1000", "--idle-timeout", "2") as server:
        with server.connect() as trickle, server.connect() as steady:
            for sock in (trickle, steady):
                sock.sendall(request_bytes("POST", "/echo?all", [("Content-Length", "10000")]))
            started = time.monotonic()
            for _ in range(20):  # 5 s: the trickle sends 40 bytes/s, the steady 2,000
                steady.sendall(b"s" * 500)
                if not answered(trickle):
                    trickle.sendall(b"t" * 10)
                time.sleep(0.25)
            response = Reader(trickle).response()
            assert response.status == 408, response
            assert b"slower than min_body_rate" in response.body
            assert response.header("Connection") == "close"
            assert Reader(steady).response().body == b"s" * 10000 + b"|eof=b''"
            assert time.monotonic() - started < 10


def test_clients_that_do_not_read_do_not_take_the_slots(puff_bin):
    with slots_server(puff_bin) as server:
        readers_gone = []
        for _ in range(6):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # stalls soon
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(request_bytes("GET", "/flood"))
            readers_gone.append(sock)
        # Their responses stall on the clients: they wait there without a slot.
        response = exchange(server, "GET", "/pid")
        assert response.status == 200
        for sock in readers_gone:
            sock.close()
