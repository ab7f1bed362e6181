"""django_puff.query_and_params and django_puff.borrow_db_context, through real processes: the
project in orm_tools_project/ (a library app and its pytest-django tests, library/checks_tools.py)
runs under `puff pytest` and under plain `python -m pytest`, on a fresh database of the
throwaway PostgreSQL ($TEST_POSTGRES_URL)."""
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from example_project import TIMEOUT, admin, server_url, with_database

PROJECT = Path(__file__).resolve().parent / "orm_tools_project"
pytestmark = pytest.mark.postgres


@pytest.fixture
def project(tmp_path):
    url = server_url()
    name = "puff_orm_tools_" + uuid.uuid4().hex[:10]
    admin(url, f"create database {name}")
    path = tmp_path / "project"
    shutil.copytree(PROJECT, path, ignore=shutil.ignore_patterns("__pycache__"))
    yield path, with_database(url, name)
    for database in (name, "test_" + name):
        admin(url, f"drop database if exists {database} with (force)")


def run(argv, path, url):
    env = {"PATH": "/usr/bin:/bin", "ORM_TOOLS_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([*argv, "-p", "no:cacheprovider", "-q"], cwd=path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert "failed" not in summary and "error" not in summary, summary
    return summary


def count(summary, word):
    found = re.search(rf"(\d+) {word}", summary)
    return int(found.group(1)) if found else 0


def test_queryset_sql_and_borrowed_connections_under_puff_and_plain_python(project, puff_bin):
    path, url = project
    in_puff = run([puff_bin, "pytest"], path, url)
    plain = run([sys.executable, "-m", "pytest"], path, url)
    # Everything passes in both; the one test of concurrent greenlets runs under puff only.
    assert count(in_puff, "passed") >= 30
    assert count(in_puff, "skipped") == 0
    assert count(plain, "skipped") == 1
    assert count(plain, "passed") == count(in_puff, "passed") - 1
