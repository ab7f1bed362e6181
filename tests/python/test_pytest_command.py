"""`puff pytest [ARGS]` on a copy of examples/hello and its pytest-django suite, against the
throwaway PostgreSQL ($TEST_POSTGRES_URL): test databases created, reused and run in xdist
workers through the engine, and exit codes and messages beside plain `python -m pytest`."""
import signal
import subprocess
import textwrap
import time

import pytest

from example_project import example_copy

EXAMPLE_TESTS = 10  # worlds/test_worlds.py

# Proof that a test ran inside puff (the built-in `puff` module, on the hub), in the controller
# or in an xdist worker.
PROBE = '''
import sys

def test_runs_inside_puff():
    assert "puff" in sys.builtin_module_names
    import puff
    assert puff.is_hub()
'''


@pytest.fixture
def example(tmp_path, puff_bin):
    yield from example_copy(tmp_path, puff_bin, ["pytest", "-p", "no:cacheprovider"],
                            ["-m", "pytest", "-p", "no:cacheprovider"])


def write_test(example, name, source):
    (example.path / "worlds" / name).write_text(textwrap.dedent(source))


def name_of_test_database(example):
    return "test_" + example.database_url.rsplit("/", 1)[1]


def database_oid(example, name):
    rows = example.query(f"select oid from pg_database where datname = '{name}'")
    return rows[0][0] if rows else None


def passed(result, count):
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{count} passed" in result.stdout, result.stdout


@pytest.mark.slow
def test_create_db_then_reuse_db_then_two_xdist_workers(example):
    write_test(example, "test_probe.py", PROBE)
    created = example.puff("--create-db", "--reuse-db")
    passed(created, EXAMPLE_TESTS + 1)
    first = database_oid(example, name_of_test_database(example))
    assert first is not None  # --reuse-db keeps it
    test_url = example.database_url.rsplit("/", 1)[0] + "/" + name_of_test_database(example)
    tables = example.query("select tablename from pg_tables where schemaname = 'public'",
                           test_url)
    assert ("world",) in tables

    reused = example.puff("--reuse-db")
    passed(reused, EXAMPLE_TESTS + 1)
    assert database_oid(example, name_of_test_database(example)) == first

    recreated = example.puff("--reuse-db", "--create-db")
    passed(recreated, EXAMPLE_TESTS + 1)
    assert database_oid(example, name_of_test_database(example)) not in (None, first)

    # Two workers, each a puff process (the probe passes in both) with its own test database,
    # dropped at the end as pytest-django does without --reuse-db.
    workers = example.puff("-n", "2")
    passed(workers, EXAMPLE_TESTS + 1)
    assert "2 workers" in workers.stdout or "created: 2/2 workers" in workers.stdout, workers.stdout
    for worker in ("gw0", "gw1"):
        assert database_oid(example, f"{name_of_test_database(example)}_{worker}") is None


def test_without_reuse_db_the_test_database_is_dropped(example):
    passed(example.puff(), EXAMPLE_TESTS)
    assert database_oid(example, name_of_test_database(example)) is None


def test_no_migrations_builds_the_tables_from_the_models(example):
    (example.path / "worlds" / "migrations" / "0001_initial.py").unlink()  # would fail if run
    passed(example.puff("--no-migrations", "--create-db"), EXAMPLE_TESTS)


def test_a_failing_test_exits_1_as_pytest_does(example):
    write_test(example, "test_broken.py", """
        import pytest
        from worlds.models import World

        @pytest.mark.django_db
        def test_broken():
            assert World.objects.count() == 1
    """)
    puff, python = example.both("worlds/test_broken.py")
    assert (puff.returncode, python.returncode) == (1, 1)
    for result in (puff, python):
        assert "1 failed" in result.stdout
        assert "assert 0 == 1" in result.stdout


def test_no_tests_exits_5_as_pytest_does(example):
    puff, python = example.both("-k", "no_test_has_this_name")
    assert (puff.returncode, python.returncode) == (5, 5)
    assert f"{EXAMPLE_TESTS} deselected" in puff.stdout
    (example.path / "empty").mkdir()
    puff, python = example.both("empty")
    assert (puff.returncode, python.returncode) == (5, 5)
    assert "no tests ran" in puff.stdout


def test_usage_error_exits_4_as_pytest_does(example):
    puff, python = example.both("--no-such-option")
    assert (puff.returncode, python.returncode) == (4, 4)
    assert "error: unrecognized arguments: --no-such-option" in puff.stderr
    assert "usage: puff pytest [options]" in puff.stderr


def test_an_interrupted_session_exits_2_as_pytest_does(example):
    write_test(example, "test_interrupt.py", """
        def test_interrupt():
            raise KeyboardInterrupt
    """)
    puff, python = example.both("worlds/test_interrupt.py")
    assert (puff.returncode, python.returncode) == (2, 2)
    assert "KeyboardInterrupt" in puff.stdout


def test_a_missing_settings_module_is_one_line_and_exit_1(example):
    puff, python = example.both("--ds", "hello.no_such_settings")
    assert (puff.returncode, python.returncode) == (1, 1)
    assert puff.stdout == ""
    assert puff.stderr.strip() == (
        "puff pytest: no Django settings module 'hello.no_such_settings' (from --ds): no "
        "module named 'hello.no_such_settings'")
    env = example.puff(env={"DJANGO_SETTINGS_MODULE": "nowhere.settings"})
    assert env.returncode == 1
    assert "'nowhere.settings' (from DJANGO_SETTINGS_MODULE): no module named 'nowhere'" in (
        env.stderr)


@pytest.mark.slow
def test_settings_come_from_puff_toml_last(example):
    ini = example.path / "pytest.ini"
    ini.write_text(ini.read_text().replace("DJANGO_SETTINGS_MODULE", "# DJANGO_SETTINGS_MODULE"))
    passed(example.puff(), EXAMPLE_TESTS)  # django_settings = "hello.settings" in puff.toml
    (example.path / "puff.toml").write_text('django_settings = "hello.missing"\n')
    missing = example.puff()
    assert missing.returncode == 1
    assert "'hello.missing' (from puff.toml)" in missing.stderr
    # Everything pytest-django reads comes before puff.toml.
    passed(example.puff("--ds", "hello.settings"), EXAMPLE_TESTS)
    passed(example.puff(env={"DJANGO_SETTINGS_MODULE": "hello.settings"}), EXAMPLE_TESTS)
    ini.write_text(ini.read_text().replace("# DJANGO_SETTINGS_MODULE", "DJANGO_SETTINGS_MODULE"))
    passed(example.puff(), EXAMPLE_TESTS)


def test_a_settings_module_that_raises_shows_its_traceback(example):
    (example.path / "hello" / "broken_settings.py").write_text(
        "from hello.settings import *\nDEBUG = undefined_name\n")
    puff, python = example.both("--ds", "hello.broken_settings")
    assert (puff.returncode, python.returncode) == (1, 1)
    assert "NameError: name 'undefined_name' is not defined" in puff.stderr


def test_ctrl_c_in_a_test_ends_the_session_as_pytest_does(example):
    write_test(example, "test_sleeps.py", """
        import pathlib, time
        import pytest

        @pytest.mark.django_db
        def test_sleeps():
            pathlib.Path("started").write_text("yes")
            time.sleep(60)
    """)
    for runner in ("puff", "python"):
        marker = example.path / "started"
        marker.unlink(missing_ok=True)
        process = subprocess.Popen(example.argv(runner, "worlds/test_sleeps.py"),
                                   cwd=example.path, env=example.env(), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), runner
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 2, (runner, out, err)  # pytest's "interrupted"
        assert "KeyboardInterrupt" in out, (runner, out)
    # The test database was dropped on the way out (no --reuse-db).
    assert database_oid(example, name_of_test_database(example)) is None
