"""Redis servers of a test's own (restart, password, kill) and helpers to read a server's view:
the connected clients and the commands it processed."""
import os
import socket
import subprocess
import time
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_redis_url(db):
    """Database `db` of the test server scripts/test started; skips without one. Each test
    module takes a database of its own (its tests FLUSHDB it)."""
    import pytest
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set (scripts/test starts a server)")
    return url.rsplit("/", 1)[0] + f"/{db}"


def make_certificate(directory, san):
    """A self-signed certificate (its own CA) for `san` ("IP:127.0.0.1", "DNS:localhost"):
    (cert.pem, key.pem) in `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=puff-test",
                    "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def redis_cli(port, *args, password=None, tls=False):
    auth = ["-a", password, "--no-auth-warning"] if password else []
    auth += ["--tls", "--insecure"] if tls else []
    done = subprocess.run(["redis-cli", "-p", str(port), *auth, *args], capture_output=True,
                          text=True, timeout=30)
    return done.stdout.strip()


def info_field(port, field, password=None):
    for line in redis_cli(port, "INFO", "all", password=password).splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise KeyError(field)


def connected_clients(port, password=None):
    """Clients connected to the server, not counting the redis-cli asking."""
    return int(info_field(port, "connected_clients", password=password)) - 1


class OwnRedis:
    """A redis-server on a free port, started and stopped for real by the test."""

    def __init__(self, directory, password=None, tls=None):
        """tls: (cert.pem, key.pem) to serve TLS only (tls-port, no plain port)."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.tls = tls
        self.process = None
        self.start()

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"{'rediss' if self.tls else 'redis'}://{auth}127.0.0.1:{self.port}/0"

    def start(self):
        args = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.directory)]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file",
                     str(self.tls[0]), "--tls-key-file", str(self.tls[1]), "--tls-auth-clients",
                     "no"]
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if redis_cli(self.port, "PING", password=self.password,
                         tls=bool(self.tls)) == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def clients(self):
        return connected_clients(self.port, self.password)
