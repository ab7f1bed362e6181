"""Shared fixtures: the real `puff` binary, throwaway project directories, and leak checks.

scripts/test sets PUFF_BIN (the executable installed in .venv/bin) and TEST_POSTGRES_URL /
TEST_REDIS_URL (throwaway servers it started)."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# `python -m pytest` run from the checkout puts it first on sys.path, where django_puff/ has no
# native modules: the tests use the installed packages, as users do.
_ROOT = Path(__file__).resolve().parents[2]
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _ROOT]

# Started from a shell without job control (`scripts/test &`), the suite inherits SIGINT
# ignored, and an ignored signal stays ignored across exec: every Ctrl-C test would fail. A
# Python handler is reset to the default on exec, so the processes the tests start get it back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _puff_bin():
    path = os.environ.get("PUFF_BIN")
    if not path:
        root = Path(__file__).resolve().parents[2]
        path = str(root / ".venv" / "bin" / "puff")
    if not os.access(path, os.X_OK):
        pytest.exit(f"puff binary not found at {path}: run scripts/bootstrap (or set PUFF_BIN)", 2)
    return path


@pytest.fixture(scope="session")
def puff_bin():
    return _puff_bin()


class Project:
    """A temporary project directory with Python modules and an optional puff.toml."""

    def __init__(self, path: Path, puff_bin: str):
        self.path = path
        self.puff_bin = puff_bin

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
        return target

    def env(self, extra=None):
        # Nothing of the developer's shell that picks a project or configuration.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PUFF_", "DJANGO_")) or k == "PUFF_BIN"}
        env.pop("VIRTUAL_ENV", None)
        env["PYTHONUNBUFFERED"] = "1"
        if extra:
            env.update(extra)
        return env

    def run(self, *args, env=None, timeout=60, input=None):
        return subprocess.run([self.puff_bin, *args], cwd=self.path, env=self.env(env),
                              capture_output=True, text=True, timeout=timeout, input=input)

    def start(self, *args, env=None):
        return subprocess.Popen([self.puff_bin, *args], cwd=self.path, env=self.env(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)


@pytest.fixture
def project(tmp_path, puff_bin):
    return Project(tmp_path, puff_bin)


def _children_of(pid):
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # field 4 (after the parenthesised command) is the parent pid
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            children.append(int(entry.name))
    return children


@pytest.fixture(autouse=True)
def no_leaked_children():
    """After each test: no process started by the test is still alive (a leaked puff, server or
    worker), except the throwaway servers scripts/test owns (they are not our children)."""
    yield
    leftovers = []
    for pid in _children_of(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            leftovers.append((pid, cmdline))
            os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"processes left running by the test: {leftovers}"


# What a test needs, from the fixtures that provide it (pyproject.toml registers the markers):
# `-m "not postgres and not redis"` leaves out the tests that need the servers scripts/test
# starts. Modules whose every test needs one say so in their own pytestmark.
_MARKER_OF_FIXTURE = {
    "example": "postgres",            # a copy of examples/hello with its database (example_copy)
    "test_postgres_url": "postgres",
    "redis_url": "redis",             # a database of the shared Redis (shared_redis_url)
    "test_redis_url": "redis",
}


def pytest_collection_modifyitems(items):
    for item in items:
        for name in sorted({_MARKER_OF_FIXTURE.get(f) for f in item.fixturenames} - {None}):
            item.add_marker(name)
