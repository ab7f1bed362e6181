"""A copy of examples/hello with a database of its own on the throwaway PostgreSQL
($TEST_POSTGRES_URL), run under puff and under plain python the same way. Shared by the tests
of `puff django` and `puff pytest`, with the helpers that copy any test project."""
import os
import shutil
import stat
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello"
TIMEOUT = 60

# What running a project leaves in its directory (scripts/run does, in examples/hello): the
# embedded services' data and live unix sockets, collected static files, bytecode, caches.
RUNTIME_STATE = (".puff", "staticfiles", "__pycache__", "*.pyc", ".pytest_cache")


def copy_project(source, target, skip=()):
    """Copies a project's source files to `target` and nothing a running project left there
    (RUNTIME_STATE, and no socket, FIFO or device, which cannot be copied), so that a test
    never depends on what a developer is running. `skip`: more glob patterns to leave out."""
    by_name = shutil.ignore_patterns(*RUNTIME_STATE, *skip)

    def ignore(directory, names):
        left_out = set(by_name(directory, names))
        for name in names:
            mode = os.lstat(os.path.join(directory, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                left_out.add(name)
        return left_out

    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)


def server_url():
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set (scripts/test starts a server)")
    return url


def with_database(url, name):
    return urlunparse(urlparse(url)._replace(path="/" + name))


def admin(url, sql):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


class Example:
    """The copy; `run("puff", ...)` is `puff COMMAND ...`, `run("python", ...)` the plain
    python command line that does the same (`manage.py ...`, `-m pytest ...`)."""

    def __init__(self, path, puff_bin, database_url, puff_command, python_command):
        self.path = path
        self.puff_bin = puff_bin
        self.database_url = database_url
        self.puff_command = puff_command
        self.python_command = python_command

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PUFF_", "DJANGO_")) or k == "PUFF_BIN"}
        env.pop("VIRTUAL_ENV", None)
        env["PUFF_EXAMPLE_DATABASE_URL"] = self.database_url
        env.update(extra or {})
        return env

    def argv(self, runner, *args):
        if runner == "puff":
            return [self.puff_bin, *self.puff_command, *args]
        return [sys.executable, *self.python_command, *args]

    def run(self, runner, *args, env=None, input=None, timeout=TIMEOUT):
        return subprocess.run(self.argv(runner, *args), cwd=self.path, env=self.env(env),
                              capture_output=True, text=True, input=input, timeout=timeout)

    def puff(self, *args, **kwargs):
        return self.run("puff", *args, **kwargs)

    def both(self, *args, **kwargs):
        return self.run("puff", *args, **kwargs), self.run("python", *args, **kwargs)

    def query(self, sql, database_url=None):
        return query(database_url or self.database_url, sql)


def query(url, sql, params=None):
    conn = psycopg2.connect(url)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        conn.close()


@contextmanager
def project_with_database(tmp_path, source, prefix):
    """A copy of the project `source` in tmp_path and a fresh database <prefix><random>: gives
    (path, database URL); drops the database, and the test databases named after it
    (test_<name>[_gwN]), afterwards."""
    url = server_url()
    name = prefix + uuid.uuid4().hex[:10]
    admin(url, f"create database {name}")
    path = tmp_path / source.name
    copy_project(source, path)
    try:
        yield path, with_database(url, name)
    finally:
        for (database,) in query(url, "select datname from pg_database where datname like %s",
                                 [f"%{name}%"]):
            admin(url, f"drop database if exists {database} with (force)")


def example_copy(tmp_path, puff_bin, puff_command, python_command):
    """Yields an Example with a fresh database named puff_example_<random>."""
    with project_with_database(tmp_path, EXAMPLE, "puff_example_") as (path, url):
        yield Example(path, puff_bin, url, puff_command, python_command)
