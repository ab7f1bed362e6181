"""`puff runserver` conformance over real sockets: PEP 3333's environ, input and output,
start_response/write/exc_info, file_wrapper, close(), HTTP/1.1 keep-alive, pipelining, HEAD,
100-continue. The applications are in wsgi_apps/apps.py."""
import concurrent.futures
import json
import signal
import socket
import time

import pytest

from http_support import Reader, RunningServer, chunked, closed_by_peer, exchange, request_bytes


@pytest.fixture
def server(puff_bin):
    running = RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app")
    yield running
    running.stop()


def get_json(server, target, headers=()):
    response = exchange(server, "GET", target, headers)
    assert response.status == 200, response
    return json.loads(response.body)


def stats(server):
    return json.loads(exchange(server, "GET", "/stats").body)


def wait_closed(server, name, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if name in stats(server)["closed"]:
            return True
        time.sleep(0.02)
    return False


def test_environ_has_every_pep3333_key_with_the_right_types(server):
    env = get_json(server, "/env?b=2&a=%20x")
    for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT",
                "wsgi.url_scheme"):
        assert env["types"][key] == "str", key
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/env"
    assert env["QUERY_STRING"] == "b=2&a=%20x"  # not decoded
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"].isdigit()
    assert env["HTTP_HOST"] == "test"
    assert env["wsgi.version"] == [1, 0] and env["types"]["wsgi.version"] == "tuple"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input"] == "InputStream"
    assert env["input_has"] == ["read", "readline", "readlines", "__iter__"]
    assert env["errors_has"] == ["write", "writelines", "flush"]
    assert env["wsgi.file_wrapper"] == "callable"
    assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env


def test_paths_are_percent_decoded_then_latin1(server):
    # UTF-8 bytes escaped: PATH_INFO holds each byte as one latin-1 character (PEP 3333).
    assert get_json(server, "/env/caf%C3%A9%20x")["PATH_INFO"] == "/env/caf\u00c3\u00a9 x"
    # A raw latin-1 byte in the request line arrives as that character.
    with server.connect() as sock:
        sock.sendall(b"GET /env/\xe9t\xe9?q=\xe9 HTTP/1.1\r\nHost: t\r\n\r\n")
        env = json.loads(Reader(sock).response().body)
    assert env["PATH_INFO"] == "/env/\u00e9t\u00e9"
    assert env["QUERY_STRING"] == "q=\u00e9"
    # Escaped slashes are decoded like the rest; the raw target stays available.
    env = get_json(server, "/env/a%2Fb?x")
    assert (env["PATH_INFO"], env["RAW_URI"]) == ("/env/a/b", "/env/a%2Fb?x")
    # Absolute-form targets lose scheme and authority.
    env = get_json(server, "http://example.com/env/abs?q=1")
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/env/abs", "q=1")


def test_headers_become_cgi_keys_and_repeats_are_joined(server):
    env = get_json(server, "/env", headers=[
        ("X-Repeat", "one"), ("Accept-Language", "fr"), ("X-Repeat", "two"),
        ("Cookie", "a=1"), ("Cookie", "b=2"), ("X_Spoofed", "dropped"),
        ("X-Latin", "caf\u00e9")])
    assert env["HTTP_X_REPEAT"] == "one, two"
    assert env["HTTP_ACCEPT_LANGUAGE"] == "fr"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert env["HTTP_X_LATIN"] == "caf\u00e9"
    assert "HTTP_X_SPOOFED" not in env  # '_' names would collide with their '-' twins


def test_content_type_and_length_have_no_http_prefix(server):
    response = exchange(server, "POST", "/env", [("Content-Type", "text/plain")], b"abc")
    env = json.loads(response.body)
    assert (env["CONTENT_TYPE"], env["CONTENT_LENGTH"]) == ("text/plain", "3")
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["REQUEST_METHOD"] == "POST"


def test_http10_request(server):
    with server.connect() as sock:
        sock.sendall(b"GET /env HTTP/1.0\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert json.loads(response.body)["SERVER_PROTOCOL"] == "HTTP/1.0"
        assert response.header("Connection") == "close"
        assert closed_by_peer(sock)
    # A 1.0 client asking for keep-alive gets it; a streamed body then ends with the connection.
    with server.connect() as sock:
        sock.sendall(b"GET /env HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        response = Reader(sock).response()
        assert response.status == 200 and response.header("Connection") == "keep-alive"


@pytest.mark.parametrize("mode", ["all", "sized", "lines", "readline", "iter"])
def test_request_body_reads(server, mode):
    body = b"line one\nline two\nthird line without newline"
    response = exchange(server, "POST", f"/echo?{mode}", body=body)
    assert response.status == 200, response
    data, _, tail = response.body.rpartition(b"|eof=")
    assert tail == b"b''"
    if mode in ("all", "sized"):
        assert data == body
    elif mode == "readline":
        assert "".join(json.loads(data)) == body.decode()
        assert all(len(line) <= 5 for line in json.loads(data))
    else:
        assert json.loads(data) == ["line one\n", "line two\n", "third line without newline"]


def test_chunked_request_body_is_streamed_into_wsgi_input(server):
    with server.connect() as sock:
        sock.sendall(request_bytes("POST", "/echo?all", [("Transfer-Encoding", "chunked")]))
        sock.sendall(chunked(b"hello ", b"chunked", b" world"))
        response = Reader(sock).response()
    assert response.body == b"hello chunked world|eof=b''"
    env = json.loads(exchange(server, "POST", "/env", [("Transfer-Encoding", "chunked")],
                              chunked(b"x")).body)
    assert "CONTENT_LENGTH" not in env and env["wsgi.input_terminated"] is True


def test_large_body_in_and_out(server):
    body = bytes(range(256)) * 4096  # 1 MiB
    response = exchange(server, "POST", "/echo?sized", body=body)
    assert response.body == body + b"|eof=b''"


def test_response_chunks_go_out_as_produced(server):
    with server.connect() as sock:
        sock.sendall(request_bytes("GET", "/stream?s1"))
        reader = Reader(sock)
        status, _, headers, _ = reader.head()
        assert status == 200 and ("Transfer-Encoding", "chunked") in headers
        # The application is now waiting for /release: the first chunk is already here.
        assert reader.chunk() == b"first;"
        assert exchange(server, "GET", "/release?s1").body == b"released"
        assert reader.chunk() == b"second;"
        assert reader.chunk() == b"last"  # the empty chunk in between was not sent
        assert reader.chunk() == b""
    assert wait_closed(server, "stream:s1")


def test_write_callable_then_returned_iterable(server):
    response = exchange(server, "GET", "/write")
    assert response.body == b"written-1;written-2;returned"
    assert response.header("Transfer-Encoding") == "chunked"
    assert wait_closed(server, "write")


def test_list_bodies_get_a_content_length_and_iterators_are_chunked(server):
    response = exchange(server, "GET", "/env")
    assert response.header("Content-Length") == str(len(response.body))
    response = exchange(server, "GET", "/no_content_length")
    assert response.header("Transfer-Encoding") == "chunked" and response.body == b"ab"


def test_start_response_may_come_from_the_first_iteration(server):
    response = exchange(server, "GET", "/lazy_start")
    assert (response.status, response.body) == (201, b"lazy")


def test_head_sends_no_body(server):
    with server.connect() as sock:
        sock.sendall(request_bytes("HEAD", "/head_body") + request_bytes("GET", "/head_body"))
        reader = Reader(sock)
        head = reader.response("HEAD")
        assert (head.status, head.header("Content-Length"), head.body) == (200, "11", b"")
        # The next response on the connection starts right after the head: no stray body bytes.
        assert reader.response().body == b"hello world"


def test_keep_alive_reuses_the_connection(server):
    with server.connect() as sock:
        reader = Reader(sock)
        ports = set()
        for i in range(5):
            sock.sendall(request_bytes("GET", f"/env?i={i}"))
            response = reader.response()
            env = json.loads(response.body)
            assert env["QUERY_STRING"] == f"i={i}"
            assert response.header("Connection") is None
            ports.add(env["REMOTE_PORT"])
        assert len(ports) == 1


def test_pipelined_requests_are_answered_in_order(server):
    with server.connect() as sock:
        # The first is slow, the others fast: responses still come back in request order.
        sock.sendall(request_bytes("GET", "/slow?0.2") + request_bytes("GET", "/env/second")
                     + request_bytes("POST", "/echo?all", body=b"third")
                     + request_bytes("GET", "/env/fourth"))
        reader = Reader(sock)
        assert reader.response().body == b"slow done"
        assert json.loads(reader.response().body)["PATH_INFO"] == "/env/second"
        assert reader.response().body == b"third|eof=b''"
        assert json.loads(reader.response().body)["PATH_INFO"] == "/env/fourth"


def test_expect_100_continue_is_sent_at_once_as_the_body_is_read_ahead(server):
    with server.connect() as sock:
        sock.sendall(request_bytes("POST", "/ignore_body", [("Expect", "100-continue"),
                                                            ("Content-Length", "5")]))
        reader = Reader(sock)
        status, reason, _, _ = reader.head()
        assert (status, reason) == (100, "Continue")  # before the application ran
        sock.sendall(b"hello")
        assert reader.response().body == b"ignored"
        sock.sendall(request_bytes("POST", "/echo?all", [("Expect", "100-continue")], b"again"))
        assert reader.response().body == b"again|eof=b''"


def test_without_read_ahead_expect_100_continue_waits_for_the_app(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--body-buffer-bytes", "0") as server, server.connect() as sock:
        sock.sendall(request_bytes("POST", "/echo?all", [("Expect", "100-continue"),
                                                         ("Content-Length", "5")]))
        reader = Reader(sock)
        status, reason, _, _ = reader.head()
        assert (status, reason) == (100, "Continue")
        sock.sendall(b"hello")
        assert reader.response().body == b"hello|eof=b''"
        sock.sendall(request_bytes("POST", "/ignore_body", [("Expect", "100-continue"),
                                                            ("Content-Length", "5")]))
        response = reader.response()
        assert response.status == 200 and response.body == b"ignored"
        # Not asked for, the body never came: the connection cannot carry another request.
        assert response.header("Connection") == "close"
        assert closed_by_peer(sock)


def test_unread_body_is_drained_and_the_connection_kept(server):
    with server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(request_bytes("POST", "/ignore_body", body=b"x" * 100000))
        assert reader.response().body == b"ignored"
        sock.sendall(request_bytes("GET", "/env/after"))
        assert json.loads(reader.response().body)["PATH_INFO"] == "/env/after"


def test_exc_info_replaces_the_status_before_the_body(server):
    response = exchange(server, "GET", "/exc_info_before_body")
    assert (response.status, response.body) == (503, b"replaced")


def test_exc_info_after_the_body_started_closes_the_connection(server):
    with server.connect() as sock:
        sock.sendall(request_bytes("GET", "/exc_info_after_body"))
        reader = Reader(sock)
        status, _, _, _ = reader.head()
        assert status == 200
        assert reader.chunk() == b"partial"
        with pytest.raises((EOFError, ConnectionResetError)):
            reader.chunk()  # cut off: no terminating chunk
    assert server.wait_for_log("the application failed after the response started")
    assert "ValueError: late failure" in server.log()


def test_start_response_twice_without_exc_info_is_an_error(server):
    response = exchange(server, "GET", "/start_response_twice")
    assert response.status == 500
    assert server.wait_for_log("start_response() was called a second time without exc_info")


def test_file_wrapper_streams_the_file_and_closes_it(server, tmp_path):
    data = bytes(range(256)) * 50
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    response = exchange(server, "GET", f"/file_wrapper?{path}")
    assert response.body == data
    assert wait_closed(server, "file_wrapper")


def test_file_wrapper_around_a_real_file_uses_sendfile(server, tmp_path):
    data = bytes(range(256)) * 8192  # 2 MiB: more than one socket buffer
    path = tmp_path / "real.bin"
    path.write_bytes(data)
    with server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(request_bytes("GET", f"/real_file?{path}")
                     + request_bytes("GET", f"/real_file?{path}:1000")
                     + request_bytes("HEAD", f"/real_file?{path}"))
        whole = reader.response()
        assert whole.body == data and whole.header("Content-Length") == str(len(data))
        assert reader.response().body == data[1000:]  # from the file's position
        head = reader.response("HEAD")
        assert head.header("Content-Length") == str(len(data)) and head.body == b""
    assert wait_closed(server, "real_file")


def test_close_is_called_when_the_client_disconnects_mid_response(server):
    sock = server.connect()
    sock.sendall(request_bytes("GET", "/endless?gone"))
    Reader(sock).head()
    sock.recv(10000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # reset, mid-body
    assert wait_closed(server, "endless:gone")
    # The server is fine afterwards.
    assert exchange(server, "GET", "/env").status == 200


def test_close_is_called_when_the_app_raises_mid_body(server):
    with server.connect() as sock:
        sock.sendall(request_bytes("GET", "/raise_mid_body"))
        reader = Reader(sock)
        assert reader.head()[0] == 200
        assert reader.chunk() == b"some;"
        assert closed_by_peer(sock)
    assert wait_closed(server, "raise_mid_body")
    assert "RuntimeError: in the middle of the body" in server.log()


def test_requests_run_concurrently_in_fresh_contexts(server):
    import concurrent.futures
    # Eight requests that each wait until all eight have arrived: only passes if they overlap.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: exchange(server, "GET", "/barrier?b1:8").body,
                               range(8)))
    assert bodies == [b"passed"] * 8
    # A ContextVar set by one request is never seen by the next (each starts a new context).
    assert exchange(server, "GET", "/context").body == b"None"
    assert exchange(server, "GET", "/context").body == b"None"


def test_access_log_lines(server):
    exchange(server, "GET", "/env?logged=1")
    assert server.wait_for_log('"GET /env?logged=1 HTTP/1.1" 200 ')


def test_json_access_log(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--access-log", "json") as running:
        exchange(running, "GET", "/env?json=1", [("User-Agent", "tester")])
        assert running.wait_for_log('"target":"/env?json=1"')
        line = next(entry for entry in running.log().splitlines()
                    if '"target":"/env?json=1"' in entry)
        record = json.loads(line)
        assert (record["method"], record["status"], record["user_agent"]) == ("GET", 200,
                                                                              "tester")
        assert record["remote_addr"] == "127.0.0.1" and record["bytes"] > 0


@pytest.mark.parametrize("workers", [1, 2])
def test_access_log_keeps_every_line_whole_and_flushes_at_stop(puff_bin, workers):
    # Lines are written in batches by a thread of their own: none may be cut, interleaved
    # with another worker's, or lost when the server stops right after the last response.
    args = ["--workers", str(workers)] if workers > 1 else []
    running = RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                            "--access-log", "json", *args)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(
            lambda i: exchange(running, "GET", f"/env?line={i}&pad={'x' * (i % 300)}").status,
            range(400)))
    assert statuses == [200] * 400
    running.signal(signal.SIGTERM)
    assert running.wait() == 0
    records = [json.loads(line) for line in running.log().splitlines() if line.startswith("{")]
    targets = sorted(int(r["target"].split("line=")[1].split("&")[0]) for r in records
                     if "line=" in r["target"])
    assert targets == list(range(400))
