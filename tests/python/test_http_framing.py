"""Request framing read strictly (RFC 9112): the smuggling/desync matrix of desync_cases.py
against `puff runserver`, where puff must run exactly what a strict reader runs, and header
floods refused before they cost the hub anything."""
import json

import pytest

import desync_cases
from http_support import Reader, RunningServer, exchange


@pytest.fixture
def desync_server(puff_bin, tmp_path):
    running = RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi",
                            "wsgi_apps.desync_app:app", "--access-log", "off",
                            env={"DESYNC_LOG": str(tmp_path / "ran.log")})
    running.ran_log = tmp_path / "ran.log"
    yield running
    running.stop()


def test_the_desync_matrix_runs_exactly_what_a_strict_reader_runs(desync_server):
    results = desync_cases.run_matrix(("127.0.0.1", desync_server.port), desync_server.ran_log)
    wrong = [f"{verdict}: {name}: ran {outcome.ran}, statuses {outcome.statuses}, "
             f"closed {outcome.closed} {outcome.error}"
             for name, (outcome, verdict) in results.items() if verdict != "strict"]
    assert len(results) >= 40
    assert not wrong, "\n".join(wrong)
    # Every refusal is an error status, never a silent close.
    for case in desync_cases.CASES:
        outcome, _ = results[case.name]
        if not case.expected:
            assert outcome.statuses and outcome.statuses[-1] in (400, 431, 501), case.name
        assert sorted(outcome.answered) == sorted(outcome.ran), case.name  # nothing dropped
    assert desync_server.process.poll() is None


def test_the_issues_smuggling_example_is_a_400_and_the_app_never_runs(desync_server):
    data = (b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n"
            b"Content-Length: 4\r\n\r\n34\r\nGET /hidden HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 7\r\n\r\n\r\n0\r\n\r\n")
    with desync_server.connect() as sock:
        sock.sendall(data)
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 400
        assert response.header("X-Ran") is None
        assert b"both Transfer-Encoding and Content-Length" in response.body
        assert reader.read_to_eof() == b""  # closed: nothing after it is read as a request


def flood(server, lines):
    head = b"GET /a HTTP/1.1\r\nHost: x\r\n" + b"".join(lines) + b"\r\n"
    with server.connect() as sock:
        sock.sendall(head)
        return Reader(sock).response()


@pytest.mark.parametrize("lines", [
    [b"X-Name-%05d: v\r\n" % i for i in range(12_000)],  # 12,000 unique names, ~200 KB
    [b"a:b\r\n"] * 15_000,                               # 15,000 tiny fields, 75 KB
    [b"A%d:b\r\n" % i for i in range(9_000)],            # under max_header_bytes, many fields
], ids=["unique-names", "tiny-fields", "many-fields-small-head"])
def test_header_floods_are_refused_with_431(desync_server, lines):
    response = flood(desync_server, lines)
    assert response.status == 431, response
    assert response.header("X-Ran") is None
    # The server is not busy with it: the next request is answered at once.
    assert exchange(desync_server, "GET", "/next").status == 200


def test_max_header_fields_is_a_flag_and_counts_field_lines(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--max-header-fields", "6") as server:
        # Host + 5 more: 6 field lines.
        ok = exchange(server, "GET", "/env", [(f"X-{i}", "v") for i in range(5)])
        assert ok.status == 200
        refused = exchange(server, "GET", "/env", [(f"X-{i}", "v") for i in range(6)])
        assert refused.status == 431
        assert b"max_header_fields" in refused.body


def test_many_distinct_headers_all_reach_environ(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                       "--max-header-fields", "5000", "--max-header-bytes", "1000000") as server:
        headers = [(f"X-Distinct-{i}", str(i)) for i in range(4000)]
        headers += [("X-Distinct-7", "again"), ("Cookie", "a=1"), ("Cookie", "b=2")]
        response = exchange(server, "GET", "/env", headers)
        assert response.status == 200
        environ = json.loads(response.body)
        assert all(environ[f"HTTP_X_DISTINCT_{i}"] == str(i) for i in range(4000) if i != 7)
        assert environ["HTTP_X_DISTINCT_7"] == "7, again"
        assert environ["HTTP_COOKIE"] == "a=1; b=2"


def test_a_single_content_length_reaches_environ_as_is(puff_bin):
    with RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app") as server:
        response = exchange(server, "POST", "/env", [("Content-Length", "5")], b"hello")
        assert json.loads(response.body)["CONTENT_LENGTH"] == "5"
        twice = exchange(server, "POST", "/env", [("Content-Length", "5"), ("Content-Length", "5")],
                         b"hello")
        assert twice.status == 400 and b"more than one Content-Length" in twice.body
