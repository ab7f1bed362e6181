"""One WSGI application routing on PATH_INFO to small handlers, each exercising one part of
PEP 3333. State that tests must observe (close() calls, flags) lives in this module: every
request runs in the same process, so /stats and /release reach it."""
import contextvars
import json
import sys

import puff

closed = []        # names passed to TrackedBody, appended when close() is called
released = set()   # names /release?NAME has set
arrivals = {}      # barrier name -> requests arrived
running = {"now": 0, "peak": 0}  # /active requests running at once, and the most seen
request_var = contextvars.ContextVar("request_var", default=None)


def _query(environ):
    return environ.get("QUERY_STRING", "")


def _respond(start_response, body, status="200 OK", content_type="text/plain"):
    if isinstance(body, str):
        body = body.encode()
    start_response(status, [("Content-Type", content_type)])
    return [body]


def _wait_for(condition, seconds=10.0):
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        puff.sleep(0.01)
    return False


class TrackedBody:
    """An iterable whose close() is recorded in `closed`."""

    def __init__(self, name, chunks):
        self.name = name
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        closed.append(self.name)


def env(environ, start_response):
    view = {}
    for key, value in environ.items():
        if key in ("wsgi.input", "wsgi.errors", "wsgi.file_wrapper"):
            view[key] = type(value).__name__ if key != "wsgi.file_wrapper" else "callable"
            continue
        view[key] = value if isinstance(value, (str, bool, int, tuple)) else repr(value)
    view["types"] = {k: type(v).__name__ for k, v in environ.items()}
    view["input_has"] = [name for name in ("read", "readline", "readlines", "__iter__")
                         if hasattr(environ["wsgi.input"], name)]
    view["errors_has"] = [name for name in ("write", "writelines", "flush")
                          if hasattr(environ["wsgi.errors"], name)]
    return _respond(start_response, json.dumps(view), content_type="application/json")


def echo(environ, start_response):
    mode = _query(environ) or "all"
    stream = environ["wsgi.input"]
    if mode == "all":
        body = stream.read()
    elif mode == "sized":
        parts = []
        while part := stream.read(7):
            assert len(part) <= 7
            parts.append(part)
        body = b"".join(parts)
    elif mode == "lines":
        body = json.dumps([line.decode("latin-1") for line in stream.readlines()]).encode()
    elif mode == "readline":
        lines = []
        while line := stream.readline(5):
            lines.append(line.decode("latin-1"))
        body = json.dumps(lines).encode()
    elif mode == "iter":
        body = json.dumps([line.decode("latin-1") for line in stream]).encode()
    else:
        body = b"unknown mode"
    body += b"|eof=" + repr(stream.read(10)).encode()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def ignore_body(environ, start_response):
    return _respond(start_response, "ignored")


def stream(environ, start_response):
    """Yields one chunk, waits until /release?NAME, yields the rest: proves chunks go out as
    produced (the test reads the first before releasing)."""
    name = _query(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"first;"
        if not _wait_for(lambda: name in released):
            yield b"never-released;"
        yield b"second;"
        yield b""
        yield b"last"

    return TrackedBody("stream:" + name, body())


def release(environ, start_response):
    released.add(_query(environ))
    return _respond(start_response, "released")


def endless(environ, start_response):
    """Streams until the client goes away; close() is recorded."""
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        while True:
            yield b"x" * 1024
            puff.sleep(0.005)

    return TrackedBody("endless:" + _query(environ), body())


def flood(environ, start_response):
    """64 KiB chunks as fast as the client takes them, ?MIB MiB in all (64 by default)."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    chunk = b"x" * 65536
    return TrackedBody("flood", (chunk for _ in range(16 * int(_query(environ) or "64"))))


def stats(environ, start_response):
    return _respond(start_response, json.dumps({"closed": closed, "arrivals": arrivals,
                                                "peak_running": running["peak"]}),
                    content_type="application/json")


def write_callable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written-1;")
    write(b"")
    write(b"written-2;")
    return TrackedBody("write", [b"returned"])


def exc_info_before_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("something broke")
    except ValueError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")],
                       sys.exc_info())
    return [b"replaced"]


def exc_info_after_body(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"partial")
    try:
        raise ValueError("late failure")
    except ValueError:
        start_response("500 Internal Server Error", [], sys.exc_info())
    return [b"unreachable"]


def start_response_twice(environ, start_response):
    start_response("200 OK", [])
    start_response("200 OK", [])
    return [b"unreachable"]


def raise_before(environ, start_response):
    1 / 0  # noqa: B018 - the failure this app is for (a ZeroDivisionError)


def raise_after_start(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    raise RuntimeError("after start_response, before the body")


def raise_mid_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"some;"
        raise RuntimeError("in the middle of the body")

    return TrackedBody("raise_mid_body", body())


def inject_header(environ, start_response):
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: stolen=1")])
    return [b"should not be sent"]


def bad_status(environ, start_response):
    start_response("OK", [])
    return [b"should not be sent"]


def str_body(environ, start_response):
    start_response("200 OK", [])
    return ["not bytes"]


def file_wrapper(environ, start_response):
    path = _query(environ)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    handle = open(path, "rb")
    original_close = handle.close

    class Tracked:
        def read(self, size):
            return handle.read(size)

        def close(self):
            closed.append("file_wrapper")
            original_close()

    return environ["wsgi.file_wrapper"](Tracked(), 1000)


def real_file(environ, start_response):
    """A FileWrapper around a real file (sendfile), opened after skipping `skip` bytes."""
    path, _, skip = _query(environ).partition(":")
    handle = open(path, "rb")
    handle.seek(int(skip or 0))
    headers = [("Content-Type", "application/octet-stream")]
    start_response("200 OK", headers)
    original_close = handle.close

    def close():
        closed.append("real_file")
        original_close()

    wrapper = environ["wsgi.file_wrapper"](handle)
    wrapper.close = close
    return wrapper


def lazy_start(environ, start_response):
    """A generator that calls start_response only when first iterated (allowed by PEP 3333)."""
    def body():
        start_response("201 Created", [("Content-Type", "text/plain")])
        yield b""
        yield b"lazy"
    return body()


def head_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
    return [b"hello world"]


def slow(environ, start_response):
    arrivals["slow"] = arrivals.get("slow", 0) + 1
    puff.sleep(float(_query(environ) or "0.3"))
    return _respond(start_response, "slow done")


def active(environ, start_response):
    """Counts the requests running at once (the peak is in /stats) for ?SECONDS."""
    running["now"] += 1
    running["peak"] = max(running["peak"], running["now"])
    try:
        puff.sleep(float(_query(environ) or "0.1"))
    finally:
        running["now"] -= 1
    return _respond(start_response, "active done")


def barrier(environ, start_response):
    """Each request waits until `count` requests have arrived: only concurrent requests pass."""
    name, _, count = _query(environ).partition(":")
    arrivals[name] = arrivals.get(name, 0) + 1
    ok = _wait_for(lambda: arrivals[name] >= int(count))
    return _respond(start_response, "passed" if ok else "timed out")


def context(environ, start_response):
    seen = request_var.get()
    request_var.set(environ["PATH_INFO"])
    return _respond(start_response, repr(seen))


def pid(environ, start_response):
    import os
    return _respond(start_response, str(os.getpid()))


kept_environs = []  # /keep: environs the application held on to past their request


def keep(environ, start_response):
    """Keeps its environ (as a cache or a reference cycle would); ?read reads the wsgi.input
    of the one kept before, after that request ended."""
    if _query(environ) == "read" and kept_environs:
        try:
            kept_environs[-1]["wsgi.input"].read(1)
        except OSError as error:
            return _respond(start_response, f"{type(error).__name__}: {error}")
        return _respond(start_response, "read after the end")
    kept_environs.append(environ)
    return _respond(start_response, "kept")


def no_content_length(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter([b"a", b"b"])


ROUTES = {
    "/env": env, "/echo": echo, "/ignore_body": ignore_body, "/stream": stream,
    "/release": release, "/endless": endless, "/stats": stats, "/write": write_callable,
    "/exc_info_before_body": exc_info_before_body, "/exc_info_after_body": exc_info_after_body,
    "/start_response_twice": start_response_twice, "/raise_before": raise_before,
    "/raise_after_start": raise_after_start, "/raise_mid_body": raise_mid_body,
    "/inject_header": inject_header, "/bad_status": bad_status, "/str_body": str_body,
    "/file_wrapper": file_wrapper, "/head_body": head_body, "/slow": slow,
    "/barrier": barrier, "/context": context, "/no_content_length": no_content_length,
    "/pid": pid, "/active": active, "/real_file": real_file, "/lazy_start": lazy_start,
    "/keep": keep, "/flood": flood,
}


def app(environ, start_response):
    handler = ROUTES.get(environ["PATH_INFO"])
    if handler is None:
        if environ["PATH_INFO"].startswith("/env/"):
            return env(environ, start_response)
        return _respond(start_response, "not found: " + environ["PATH_INFO"], "404 Not Found")
    return handler(environ, start_response)
