"""Running `puff runserver` for tests and talking raw HTTP/1.1 to it over real sockets."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BANNER = re.compile(r"serving .* on (http://[\d.]+:(\d+)|unix:(\S+)) ")


class RunningServer:
    """A `puff runserver` process; its stderr is collected in the background (`log()`)."""

    def __init__(self, puff_bin, *args, cwd=HERE, env=None, wait=True):
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("PUFF_", "DJANGO_")) or k == "PUFF_BIN"}
        full_env.pop("VIRTUAL_ENV", None)
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        self.process = subprocess.Popen([puff_bin, "runserver", *args], cwd=cwd, env=full_env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True)
        self._lines = []
        self._lock = threading.Lock()
        self._banner = threading.Event()
        self.port = None
        self.unix_path = None
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if wait and not self._banner.wait(30):
            self.stop()
            raise AssertionError(f"runserver did not start:\n{self.log()}")

    def _read_stderr(self):
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self._lines.append(line)
            match = BANNER.search(line)
            if match and not self._banner.is_set():
                if match.group(2):
                    self.port = int(match.group(2))
                else:
                    self.unix_path = match.group(3)
                self._banner.set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        with self._lock:
            return "".join(self._lines)

    def wait_for_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.02)
        return False

    def connect(self, timeout=10):
        if self.unix_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(self.unix_path)
        else:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return sock

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def signal(self, signum):
        self.process.send_signal(signum)

    def wait(self, timeout=30):
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        self.process.stdout.close()
        self.process.stderr.close()


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) in order
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return values[0] if values else None

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping leftover bytes between them."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by the server")
        self.buffer += data

    def read_until(self, marker):
        while marker not in self.buffer:
            self._fill()
        index = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:index], self.buffer[index:]
        return data

    def read_exact(self, n):
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_to_eof(self):
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        data, self.buffer = self.buffer, b""
        return data

    def head(self):
        raw = self.read_until(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        _, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line]
        return int(status), reason, headers, raw

    def response(self, method="GET"):
        status, reason, headers, raw = self.head()
        while status == 100:
            status, reason, headers, raw = self.head()
        lookup = {name.lower(): value for name, value in headers}
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "content-length" in lookup:
            body = self.read_exact(int(lookup["content-length"]))
        elif lookup.get("transfer-encoding") == "chunked":
            body = self.chunked_body()
        else:
            body = self.read_to_eof()
        return Response(status, reason, headers, body, raw)

    def chunk(self):
        """One chunk of a chunked body: bytes, or b"" for the last one (trailers consumed)."""
        size = int(self.read_until(b"\r\n")[:-2], 16)
        if size == 0:
            self.read_until(b"\r\n")
            return b""
        data = self.read_exact(size)
        assert self.read_exact(2) == b"\r\n"
        return data

    def chunked_body(self):
        parts = []
        while part := self.chunk():
            parts.append(part)
        return b"".join(parts)


def request_bytes(method, target, headers=(), body=b"", version="HTTP/1.1", host=True):
    lines = [f"{method} {target} {version}"]
    if host:
        lines.append(f"Host: {'test' if host is True else host}")
    lines += [f"{name}: {value}" for name, value in headers]
    if body and not any(name.lower() in ("content-length", "transfer-encoding")
                        for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(server, method, target, headers=(), body=b"", **kwargs):
    """One request on a fresh connection; returns the Response."""
    with server.connect() as sock:
        sock.sendall(request_bytes(method, target, headers, body, **kwargs))
        return Reader(sock).response(method)


def closed_by_peer(sock, timeout=10):
    """True when the server closed the connection (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def chunked(*parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
