"""`puff runserver --static URL=DIR`: files served by the server itself (sendfile), with ETag /
Last-Modified revalidation, byte ranges, HEAD, and no way out of the directory."""
import os
import time
from email.utils import formatdate

import pytest

from http_support import Reader, RunningServer, exchange, request_bytes


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body { color: red; }\n")
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    (root / "digits.txt").write_bytes(b"0123456789" * 10)
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "link-out.txt")
    return root


@pytest.fixture
def server(puff_bin, site):
    running = RunningServer(puff_bin, "--bind", "127.0.0.1:0", "--wsgi", "wsgi_apps.apps:app",
                            "--static", f"/static/={site}")
    yield running
    running.stop()


def test_files_are_served_with_validators(server, site):
    response = exchange(server, "GET", "/static/css/site.css")
    assert (response.status, response.body) == (200, b"body { color: red; }\n")
    assert response.header("Content-Type") == "text/css; charset=utf-8"
    etag, modified = response.header("ETag"), response.header("Last-Modified")
    assert etag.startswith('"') and modified.endswith(" GMT")
    assert response.header("Accept-Ranges") == "bytes"
    again = exchange(server, "GET", "/static/css/site.css", [("If-None-Match", etag)])
    assert (again.status, again.body, again.header("ETag")) == (304, b"", etag)
    since = exchange(server, "GET", "/static/css/site.css", [("If-Modified-Since", modified)])
    assert since.status == 304
    stale = exchange(server, "GET", "/static/css/site.css",
                     [("If-None-Match", '"other"'), ("If-Modified-Since", modified)])
    assert stale.status == 200  # If-None-Match wins over If-Modified-Since
    # Outside the mount, requests still reach the application.
    assert exchange(server, "GET", "/env").status == 200
    assert server.wait_for_log('"GET /static/css/site.css HTTP/1.1" 200 21 ')


def test_if_modified_since_in_the_future_is_ignored(server, site):
    # RFC 9110 §13.1.3: a date later than the server's clock is invalid, so the condition is
    # ignored and the file is sent (a client whose clock runs ahead still sees new files).
    day_ago = time.time() - 86400
    os.utime(site / "digits.txt", (day_ago, day_ago))
    tomorrow = formatdate(time.time() + 86400, usegmt=True)
    response = exchange(server, "GET", "/static/digits.txt", [("If-Modified-Since", tomorrow)])
    assert (response.status, response.body) == (200, b"0123456789" * 10)
    an_hour_after = formatdate(day_ago + 3600, usegmt=True)
    response = exchange(server, "GET", "/static/digits.txt",
                        [("If-Modified-Since", an_hour_after)])
    assert (response.status, response.body) == (304, b"")


def test_large_file_and_head_and_pipelining(server, site):
    data = (site / "big.bin").read_bytes()
    with server.connect() as sock:
        sock.sendall(request_bytes("HEAD", "/static/big.bin")
                     + request_bytes("GET", "/static/big.bin")
                     + request_bytes("GET", "/env/after"))
        reader = Reader(sock)
        head = reader.response("HEAD")
        assert (head.status, head.header("Content-Length"), head.body) == (200, str(len(data)),
                                                                          b"")
        full = reader.response()
        assert full.body == data
        assert b'"PATH_INFO": "/env/after"' in reader.response().body


def test_byte_ranges(server):
    ranged = exchange(server, "GET", "/static/digits.txt", [("Range", "bytes=10-14")])
    assert (ranged.status, ranged.body) == (206, b"01234")
    assert ranged.header("Content-Range") == "bytes 10-14/100"
    tail = exchange(server, "GET", "/static/digits.txt", [("Range", "bytes=-3")])
    assert (tail.status, tail.body) == (206, b"789")
    beyond = exchange(server, "GET", "/static/digits.txt", [("Range", "bytes=100-")])
    assert (beyond.status, beyond.header("Content-Range")) == (416, "bytes */100")
    several = exchange(server, "GET", "/static/digits.txt", [("Range", "bytes=0-1,5-6")])
    assert several.status == 200 and len(several.body) == 100
    etag = exchange(server, "GET", "/static/digits.txt").header("ETag")
    if_range = exchange(server, "GET", "/static/digits.txt",
                        [("Range", "bytes=0-0"), ("If-Range", '"changed"')])
    assert if_range.status == 200  # the validator no longer matches: the whole file
    if_range = exchange(server, "GET", "/static/digits.txt",
                        [("Range", "bytes=0-0"), ("If-Range", etag)])
    assert (if_range.status, if_range.body) == (206, b"0")


@pytest.mark.parametrize("target", ["/static/missing.css", "/static/css", "/static/css/",
                                    "/static/", "/static/../secret.txt",
                                    "/static/%2e%2e/secret.txt", "/static/link-out.txt",
                                    "/static/css/%00.css"])
def test_nothing_outside_the_directory_and_no_listings(server, target):
    response = exchange(server, "GET", target)
    assert response.status == 404, (target, response)
    assert b"outside" not in response.body


def test_only_get_and_head(server):
    response = exchange(server, "POST", "/static/digits.txt", body=b"x")
    assert (response.status, response.header("Allow")) == (405, "GET, HEAD")


def test_bad_static_flags(project, site):
    result = project.run("runserver", "--wsgi", "x:y", "--static", "static")
    assert result.returncode == 2 and "--static: expected URL=DIR" in result.stderr
    result = project.run("runserver", "--wsgi", "x:y", "--static", "/s/=nowhere")
    assert result.returncode == 2
    assert "/nowhere is not a directory (create it;" in result.stderr.strip()
