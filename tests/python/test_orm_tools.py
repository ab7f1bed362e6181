"""django_puff.query_and_params and django_puff.borrow_db_context, through real processes: the
project in orm_tools_project/ (a library app and its pytest-django tests, library/checks_tools.py)
runs under `puff pytest` and under plain `python -m pytest`, on a fresh database of the
throwaway PostgreSQL ($TEST_POSTGRES_URL)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from example_project import TIMEOUT, project_with_database

PROJECT = Path(__file__).resolve().parent / "orm_tools_project"
pytestmark = pytest.mark.postgres


@pytest.fixture
def project(tmp_path):
    with project_with_database(tmp_path, PROJECT, "puff_orm_tools_") as path_and_url:
        yield path_and_url


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
