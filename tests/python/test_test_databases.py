"""Test databases are dropped however the tests changed the connection's settings: the project
in settings_variants_project/ (tests that give settings_dict another TIME_ZONE or pool for a
while, each variant a pool of its own under puff) runs under `puff django test` and `puff
pytest`, and beside them under plain python, on a fresh database of the throwaway PostgreSQL."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from example_project import TIMEOUT, project_with_database, query

PROJECT = Path(__file__).resolve().parent / "settings_variants_project"
TESTS = 4  # in variants/tests.py; one of them is skipped under plain python


class VariantsProject:
    def __init__(self, path, url):
        self.path, self.url = path, url
        self.test_database = "test_" + url.rsplit("/", 1)[1]

    def run(self, argv):
        env = {"PATH": "/usr/bin:/bin", "VARIANTS_DATABASE_URL": self.url,
               "DJANGO_SETTINGS_MODULE": "settings", "PYTHONUNBUFFERED": "1"}
        return subprocess.run(argv, cwd=self.path, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)

    def test_database_exists(self):
        return query(self.url, "select count(*) from pg_database where datname = %s",
                     [self.test_database]) == [(1,)]


@pytest.fixture
def project(tmp_path):
    with project_with_database(tmp_path, PROJECT, "puff_variants_") as (path, url):
        yield VariantsProject(path, url)


def test_django_test_drops_the_database_after_settings_variants(project, puff_bin):
    in_puff = project.run([puff_bin, "django", "test", "--noinput"])
    assert f"Ran {TESTS} tests" in in_puff.stderr, in_puff.stderr
    assert in_puff.returncode == 0, in_puff.stderr[-3000:]
    assert not project.test_database_exists()
    plain = project.run([sys.executable, "-m", "django", "test", "--noinput"])
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert f"Ran {TESTS} tests" in plain.stderr and "skipped=1" in plain.stderr
    assert not project.test_database_exists()


def test_pytest_drops_the_database_after_settings_variants(project, puff_bin):
    in_puff = project.run([puff_bin, "pytest", "-p", "no:cacheprovider", "-q"])
    assert in_puff.returncode == 0, in_puff.stdout[-3000:] + in_puff.stderr[-3000:]
    # pytest-django reports a failed DROP DATABASE as a warning, not as a failure.
    assert re.search(rf"^{TESTS} passed in ", in_puff.stdout, re.M), in_puff.stdout
    assert not project.test_database_exists()
    plain = project.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"])
    assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-3000:]
    assert re.search(rf"^{TESTS - 1} passed, 1 skipped in ", plain.stdout, re.M), plain.stdout
    assert not project.test_database_exists()
