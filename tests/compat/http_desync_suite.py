#!/usr/bin/env python3
"""Runs the request-smuggling/desync matrix (tests/python/desync_cases.py) against puff and, as
the reference, gunicorn (gthread) and granian, serving the same WSGI application; prints a
table of verdicts per case and server, and how fast each refuses two header floods.

    tests/compat/http_desync_suite.py            # all three
    tests/compat/http_desync_suite.py --only puff

The peers come from PyPI into tests/compat/.cache/venv-http-desync (requirements-http-desync.txt).
Exits 1 when puff runs anything a strict reader would not (any verdict but "strict"), 2 when a
server could not be started. The peers' verdicts are reported, never scored.
"""
import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from suite_common import MAIN_PYTHON, Messages

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "python"
sys.path.insert(0, str(TESTS))
import desync_cases  # noqa: E402
from http_support import Reader  # noqa: E402

CACHE = ROOT / "tests" / "compat" / ".cache"
VENV = CACHE / "venv-http-desync"
REQUIREMENTS = ROOT / "tests" / "compat" / "requirements-http-desync.txt"
PUFF = ROOT / ".venv" / "bin" / "puff"
APP = "wsgi_apps.desync_app:app"

_messages = Messages("http desync suite")
say, fail, run_quiet = _messages.say, _messages.fail, _messages.run_quiet


def peer_python():
    python = VENV / "bin" / "python"
    stamp = VENV / ".stamp"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not python.exists():
        run_quiet([MAIN_PYTHON, "-m", "venv", VENV], "creating the peers' venv")
    if not stamp.exists() or stamp.read_text() != wanted:
        say("installing gunicorn and granian")
        run_quiet([python, "-m", "pip", "-q", "--disable-pip-version-check", "install", "-r",
                   REQUIREMENTS], "installing the peers")
        stamp.write_text(wanted)
    return VENV / "bin"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def servers(bin_dir):
    """name -> argv(port); one worker process each."""
    return {
        "puff": lambda port: [PUFF, "runserver", "--bind", f"127.0.0.1:{port}", "--wsgi", APP,
                              "--access-log", "off"],
        "gunicorn gthread": lambda port: [bin_dir / "gunicorn", "--bind", f"127.0.0.1:{port}",
                                          "--worker-class", "gthread", "--threads", "4",
                                          "--log-level", "error", APP],
        "granian": lambda port: [bin_dir / "granian", "--interface", "wsgi", "--host",
                                 "127.0.0.1", "--port", str(port), "--no-ws", "--log-level",
                                 "error", APP],
    }


def start(name, argv, log_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUFF_")}
    env["PYTHONPATH"] = str(TESTS)
    env["DESYNC_LOG"] = str(log_path)
    process = subprocess.Popen([str(a) for a in argv], cwd=TESTS, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = int(argv[argv.index("--port") + 1]) if "--port" in argv else \
        int(str(argv[argv.index("--bind") + 1]).rsplit(":", 1)[1])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"{name} exited at start: {process.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    fail(f"{name} did not listen on port {port} within 30 s")


def time_flood(port, lines):
    """(status, milliseconds from the last byte sent to the answer)."""
    head = b"GET /a HTTP/1.1\r\nHost: x\r\n" + b"".join(lines) + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        try:
            sock.sendall(head)
        except OSError:
            pass
        sent = time.monotonic()
        try:
            status = Reader(sock).response().status
        except (TimeoutError, EOFError, ConnectionResetError):
            status = "closed"
        return status, (time.monotonic() - sent) * 1000


FLOODS = {
    "12,000 unique names": [b"X-Name-%05d: v\r\n" % i for i in range(12_000)],
    "15,000 tiny fields": [b"a:b\r\n"] * 15_000,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", help="servers to run (puff, gunicorn, granian)")
    args = parser.parse_args()
    if not PUFF.exists():
        fail(f"{PUFF} not found: run scripts/bootstrap")
    bin_dir = peer_python() if args.only != ["puff"] else None
    chosen = {name: make for name, make in servers(bin_dir).items()
              if not args.only or any(name.startswith(o) for o in args.only)}
    verdicts, floods = {}, {}
    work = Path(tempfile.mkdtemp(prefix="puff-desync."))
    for name, make in chosen.items():
        log_path = work / f"{name.replace(' ', '-')}.log"
        process, port = start(name, make(free_port()), log_path)
        try:
            say(f"{name}: {len(desync_cases.CASES)} cases")
            verdicts[name] = desync_cases.run_matrix(("127.0.0.1", port), log_path)
            floods[name] = {label: time_flood(port, lines) for label, lines in FLOODS.items()}
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    shutil.rmtree(work, ignore_errors=True)
    names = list(chosen)
    print("\n| case | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for case in desync_cases.CASES:
        print(f"| {case.name} | " + " | ".join(verdicts[n][case.name][1] for n in names) + " |")
    print()
    for label in FLOODS:
        print(f"{label}: " + "; ".join(
            f"{n} {floods[n][label][0]} in {floods[n][label][1]:.1f} ms" for n in names))
    print()
    status = 0
    for name in names:
        counts = {}
        for _, verdict in verdicts[name].values():
            counts[verdict] = counts.get(verdict, 0) + 1
        summary = ", ".join(f"{counts[v]} {v}" for v in ("strict", "stricter", "lenient",
                                                         "DESYNC") if v in counts)
        print(f"http desync suite ({name}): {summary} of {len(desync_cases.CASES)} cases")
        if name == "puff" and counts.get("strict", 0) != len(desync_cases.CASES):
            status = 1
            for case_name, (outcome, verdict) in verdicts[name].items():
                if verdict != "strict":
                    print(f"  puff {verdict}: {case_name}: ran {outcome.ran}, answered "
                          f"{outcome.answered}, statuses {outcome.statuses}, "
                          f"closed {outcome.closed}")
    return status


if __name__ == "__main__":
    sys.exit(main())
