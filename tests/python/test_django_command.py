"""`puff django COMMAND [ARGS]` on a copy of examples/hello against the throwaway PostgreSQL
($TEST_POSTGRES_URL), each case beside `python manage.py` run the same way: same output shape,
same exit code. Every test gets a fresh copy of the project and a fresh database."""
import os
import pty
import select
import shutil
import signal
import subprocess
import time
from urllib.parse import urlparse, urlunparse

import pytest

from example_project import TIMEOUT, example_copy


@pytest.fixture
def example(tmp_path, puff_bin):
    yield from example_copy(tmp_path, puff_bin, ["django"], ["manage.py"])


def tables(example):
    return {row[0] for row in example.query(
        "select tablename from pg_tables where schemaname = 'public'")}


def same_shape(puff_result, python_result):
    """The two runs agree: exit code, and stdout/stderr once the program name is the same (its
    length changes how argparse indents usage lines, hence the whitespace)."""
    assert puff_result.returncode == python_result.returncode, (puff_result, python_result)
    def normalise(text):
        return " ".join(text.replace("puff django", "manage.py").split())
    assert normalise(puff_result.stdout) == normalise(python_result.stdout)
    assert normalise(puff_result.stderr) == normalise(python_result.stderr)


def test_migrate_creates_the_tables_and_a_second_run_has_nothing_to_do(example):
    first = example.puff("migrate")
    assert first.returncode == 0, first.stderr
    assert "Applying worlds.0001_initial... OK" in first.stdout
    assert {"world", "auth_user", "django_migrations"} <= tables(example)
    assert first.stderr == ""  # no stall warnings, no noise
    puff, python = example.both("migrate")
    same_shape(puff, python)
    assert "No migrations to apply." in puff.stdout


@pytest.mark.slow
def test_showmigrations_and_check_match_manage_py(example):
    assert example.puff("migrate").returncode == 0
    for args in (("showmigrations",), ("showmigrations", "worlds", "--plan"), ("check",)):
        puff, python = example.both(*args)
        same_shape(puff, python)
        assert puff.returncode == 0
    assert "[X] 0001_initial" in example.puff("showmigrations", "worlds").stdout


@pytest.mark.slow
def test_makemigrations_check_passes_then_fails_after_a_model_change(example):
    puff, python = example.both("makemigrations", "--check", "--dry-run")
    same_shape(puff, python)
    assert puff.returncode == 0
    assert "No changes detected" in puff.stdout
    models = example.path / "worlds" / "models.py"
    models.write_text(models.read_text().replace(
        "    randomnumber = models.IntegerField()\n",
        "    randomnumber = models.IntegerField()\n    note = models.TextField(default='')\n"))
    puff, python = example.both("makemigrations", "--check", "--dry-run")
    same_shape(puff, python)
    assert puff.returncode == 1
    assert "Add field note to world" in puff.stdout
    assert not (example.path / "worlds" / "migrations" / "0002_world_note.py").exists()


@pytest.mark.slow
def test_createsuperuser_noinput_takes_the_environment(example):
    assert example.puff("migrate").returncode == 0
    env = {"DJANGO_SUPERUSER_PASSWORD": "s3cret-Pass-99"}
    result = example.puff("createsuperuser", "--noinput", "--username", "admin",
                          "--email", "admin@example.com", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "Superuser created successfully.\n", "")
    assert example.query("select username, is_superuser from auth_user") == [("admin", True)]
    # The same user again: Django's own validation error, exit 1, as with manage.py.
    puff, python = example.both("createsuperuser", "--noinput", "--username", "admin",
                                "--email", "admin@example.com", env=env)
    same_shape(puff, python)
    assert puff.returncode == 1
    assert "That username is already taken." in puff.stderr


def test_custom_command_output_and_command_error(example):
    assert example.puff("migrate").returncode == 0
    result = example.puff("seed_worlds", "--count", "25")
    assert (result.returncode, result.stdout, result.stderr) == (0, "Seeded 25 worlds.\n", "")
    assert example.query("select count(*) from world") == [(25,)]
    puff, python = example.both("seed_worlds", "--count", "0")
    same_shape(puff, python)
    assert (puff.returncode, puff.stdout) == (1, "")
    assert puff.stderr == "CommandError: --count must be at least 1, got 0\n"
    # An argparse error in the command's own options: Django's usage line, exit 2.
    puff, python = example.both("seed_worlds", "--count", "many")
    same_shape(puff, python)
    assert puff.returncode == 2
    assert puff.stderr.startswith("usage: puff django seed_worlds")


def test_unknown_command_is_djangos_message_and_exit_1(example):
    puff, python = example.both("no_such_command")
    same_shape(puff, python)
    assert puff.returncode == 1
    assert puff.stderr == "Unknown command: 'no_such_command'\nType 'puff django help' for usage.\n"


def test_help_lists_the_projects_commands(example):
    result = example.puff("help")
    assert result.returncode == 0, result.stderr
    assert ("Type 'puff django help <subcommand>' for help on a specific subcommand."
            in result.stdout)
    assert "[worlds]\n    seed_worlds" in result.stdout


def test_settings_come_from_puff_toml_env_or_the_flag(example):
    settings = example.path / "hello" / "other_settings.py"
    settings.write_text("from hello.settings import *\nprint('other settings', flush=True)\n")
    # puff.toml's django_settings (hello.settings) when nothing else says.
    assert "other settings" not in example.puff("check").stdout
    env_run = example.puff("check", env={"DJANGO_SETTINGS_MODULE": "hello.other_settings"})
    assert env_run.returncode == 0 and "other settings" in env_run.stdout
    flag_run = example.puff("check", "--settings", "hello.other_settings")
    assert flag_run.returncode == 0 and "other settings" in flag_run.stdout
    # PUFF_DJANGO_SETTINGS overrides puff.toml like any other key.
    puff_env = example.puff("check", env={"PUFF_DJANGO_SETTINGS": "hello.other_settings"})
    assert puff_env.returncode == 0 and "other settings" in puff_env.stdout


def test_missing_settings_is_one_line_exit_2(example):
    (example.path / "puff.toml").unlink()
    result = example.puff("migrate")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("puff django: no Django settings module;")
    assert "DJANGO_SETTINGS_MODULE" in result.stderr and "--settings" in result.stderr
    # Commands Django runs without a project still work.
    version = example.puff("version")
    assert version.returncode == 0 and version.stdout.strip()[0].isdigit()


@pytest.mark.parametrize("line, error", [
    ("import no_such_module_here", "ModuleNotFoundError: No module named 'no_such_module_here'"),
    ("DEBUG = undefined_name", "NameError: name 'undefined_name' is not defined"),
])
def test_a_broken_settings_module_is_its_traceback_and_exit_1(example, line, error):
    (example.path / "hello" / "broken_settings.py").write_text(
        f"from hello.settings import *\n{line}\n")
    env = {"DJANGO_SETTINGS_MODULE": "hello.broken_settings"}
    puff, python = example.both("migrate", env=env)
    assert puff.returncode == python.returncode == 1
    last = lambda text: text.strip().splitlines()[-1]  # noqa: E731
    assert last(puff.stderr) == last(python.stderr) == error
    assert 'broken_settings.py", line 2' in puff.stderr
    assert puff.stdout == ""


def test_unreachable_database_at_migrate_fails_fast(example):
    with_port = urlparse(example.database_url)._replace(netloc="postgres@127.0.0.1:9")
    env = {"PUFF_EXAMPLE_DATABASE_URL": urlunparse(with_port)}
    started = time.monotonic()
    puff, python = example.both("migrate", env=env, timeout=30)
    assert time.monotonic() - started < 20
    assert puff.returncode == python.returncode == 1
    last_line = puff.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.db.utils.OperationalError: connection refused at "
                                "127.0.0.1:9")
    assert python.stderr.strip().splitlines()[-1].startswith(
        "django.db.utils.OperationalError: connection refused at 127.0.0.1:9")


def test_stdin_is_passed_through(example):
    result = example.puff("shell", "--no-imports",
                          input="import sys\nprint('read', sys.stdin.isatty())\n")
    assert result.returncode == 0, result.stderr
    assert "read False" in result.stdout


def test_reloading_runserver_points_to_noreload(example):
    result = example.puff("runserver")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--noreload" in result.stderr


def test_sigint_unwinds_like_python(example):
    code = "import time; print('waiting', flush=True); time.sleep(30)"
    results = {}
    for runner in ("puff", "python"):
        process = subprocess.Popen(example.argv(runner, "shell", "--no-imports", "-c", code),
                                   cwd=example.path, env=example.env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert process.stdout.readline() == "waiting\n"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
        results[runner] = (process.returncode, err)
    puff_code, puff_err = results["puff"]
    python_code, python_err = results["python"]
    assert python_code == -signal.SIGINT  # python re-raises SIGINT; puff exits 128 + 2
    assert puff_code == 130
    assert puff_err.strip().splitlines()[-1] == python_err.strip().splitlines()[-1] == (
        "KeyboardInterrupt")


def drive_through_a_terminal(argv, cwd, env, answers):
    """Runs argv on a pseudo-terminal, typing each answer when its prompt shows (None: Ctrl-C).
    Returns (exit code, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    shown, pending, interrupted_at, answered = b"", list(answers), None, 0
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                shown += data
            # Only output that came after the last answer counts (prompts may repeat: ">>>").
            last_line = shown[answered:].decode(errors="replace").rsplit("\n", 1)[-1]
            if (pending and pending[0][0] in last_line
                    and last_line.rstrip().endswith((":", ">>>"))):
                # The prompt is out before input() reads: give it a moment, as a person would.
                time.sleep(0.3)
                _, answer = pending.pop(0)
                answered = len(shown)
                if answer is None:
                    interrupted_at = time.monotonic()
                    os.kill(pid, signal.SIGINT)
                else:
                    interrupted_at = None
                    os.write(fd, answer.encode() + b"\r")
            elif interrupted_at and time.monotonic() - interrupted_at > 3:
                # A SIGINT that landed while readline was still setting up can be lost (seen
                # with plain python too); a person would press Ctrl-C again.
                interrupted_at = time.monotonic()
                os.kill(pid, signal.SIGINT)
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


@pytest.mark.slow
def test_interactive_createsuperuser_through_a_terminal(example):
    assert example.puff("migrate").returncode == 0
    answers = [("Username", "bob"), ("Email address", "bob@example.com"),
               ("Password", "s3cret-Pass-99"), ("Password (again)", "s3cret-Pass-99")]
    code, shown = drive_through_a_terminal(example.argv("puff", "createsuperuser"),
                                           example.path, example.env(), answers)
    assert code == 0, shown
    assert "Superuser created successfully." in shown
    assert "blocked" not in shown  # no watchdog warnings while the user types
    assert example.query("select username, email from auth_user") == [("bob", "bob@example.com")]
    # Ctrl-C at a prompt: Django's "Operation cancelled.", exit 1, as manage.py.
    for runner in ("puff", "python"):
        code, shown = drive_through_a_terminal(example.argv(runner, "createsuperuser"),
                                               example.path, example.env(), [("Username", None)])
        assert code == 1, (runner, shown)
        assert "Operation cancelled." in shown
        assert "Traceback" not in shown


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_runserver_noreload_serves_the_database_and_stops_on_ctrl_c(example):
    import json
    import urllib.request
    assert example.puff("migrate").returncode == 0
    assert example.puff("seed_worlds", "--count", "3").returncode == 0
    port = free_port()
    process = subprocess.Popen(example.argv("puff", "runserver", "--noreload", f"127.0.0.1:{port}"),
                               cwd=example.path, env=example.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/db/", timeout=5) as reply:
                    world = json.load(reply)
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
                time.sleep(0.2)
        assert 1 <= world["randomNumber"] <= 10000
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err  # runserver catches KeyboardInterrupt: sys.exit(0)
    # (Not the request's log line: the server's thread writes it after the reply, racing the
    # Ctrl-C that follows it here.)
    assert "Starting development server" in out, (out, err)


def test_collectstatic_and_check_deploy_match_manage_py(example):
    puff = example.puff("collectstatic", "--noinput")
    assert puff.returncode == 0, puff.stderr
    copied = len([p for p in (example.path / "staticfiles").rglob("*") if p.is_file()])
    assert copied > 100  # the admin's files and the app's
    assert puff.stdout == f"\n{copied} static files copied to '{example.path / 'staticfiles'}'.\n"
    assert (example.path / "staticfiles" / "worlds" / "site.css").is_file()
    python = example.run("python", "collectstatic", "--noinput")  # nothing left to copy
    assert python.returncode == 0
    assert python.stdout == (f"\n0 static files copied to '{example.path / 'staticfiles'}', "
                             f"{copied} unmodified.\n")
    # The example's development settings fail the deployment checks: warnings, exit 0;
    # --fail-level WARNING makes them an error (exit 1), with the same report.
    puff, python = example.both("check", "--deploy")
    same_shape(puff, python)
    assert puff.returncode == 0 and "security.W018" in puff.stderr
    puff, python = example.both("check", "--deploy", "--fail-level", "WARNING")
    same_shape(puff, python)
    assert puff.returncode == 1 and "SystemCheckError" in puff.stderr


def test_django_test_runner_under_manage_py(example):
    result = example.run("python", "test", "--noinput")
    assert result.returncode == 0, result.stderr
    assert "Ran 6 tests" in result.stderr and "OK" in result.stderr


def test_django_test_runner_under_puff(example):
    result = example.puff("test", "--noinput")
    assert "Ran 6 tests" in result.stderr and "\nOK\n" in result.stderr
    assert result.returncode == 0, result.stderr


def test_watchdog_is_off_unless_asked_for(example):
    code = "import time; time.sleep(0.4)"
    quiet = example.puff("shell", "--no-imports", "-c", code)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    warned = subprocess.run([example.puff_bin, "--watchdog-ms", "100", "django", "shell",
                             "--no-imports", "-c", code], cwd=example.path, env=example.env(),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert warned.returncode == 0
    assert "the hub has been blocked for" in warned.stderr and "time.sleep" not in warned.stdout


def test_project_directory_is_the_config_files(example):
    """Run from elsewhere with --config: puff.toml's directory is on sys.path (the settings
    and the app import), as manage.py's directory is for `python ../manage.py`."""
    elsewhere = example.path / "worlds"
    result = subprocess.run([example.puff_bin, "--config", str(example.path / "puff.toml"),
                             "django", "check"], cwd=elsewhere, env=example.env(),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_ctrl_c_during_a_query_ends_the_command(example):
    code = ("from django.db import connection\n"
            "cursor = connection.cursor()\n"
            "print('querying', flush=True)\n"
            "cursor.execute('select pg_sleep(30)')\n")
    process = subprocess.Popen(example.argv("puff", "shell", "--no-imports", "-c", code),
                               cwd=example.path, env=example.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout.readline() == "querying\n"
    time.sleep(0.5)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=TIMEOUT)
    assert time.monotonic() - started < 10
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "KeyboardInterrupt"
    # Not checked: the server goes on running pg_sleep until it notices the closed socket,
    # under puff as under plain python with the driver (the driver does not cancel on
    # KeyboardInterrupt yet).


def test_dbshell_runs_psql_with_the_settings_connection(example):
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    assert example.puff("migrate").returncode == 0
    puff, python = example.both("dbshell", "--", "-Atc", "select count(*) from django_migrations")
    same_shape(puff, python)
    assert puff.returncode == 0 and int(puff.stdout) >= 15
    puff, python = example.both("dbshell", "--", "-Atc", "select no_such_column")
    same_shape(puff, python)
    assert puff.returncode == 1
    assert 'column "no_such_column" does not exist' in puff.stderr
    assert puff.stderr.strip().splitlines()[-1].startswith("CommandError: ")


def test_interactive_shell_through_a_terminal(example):
    assert example.puff("migrate").returncode == 0
    assert example.puff("seed_worlds", "--count", "12").returncode == 0
    answers = [(">>>", "World.objects.count() * 2"), (">>>", None), (">>>", "exit(3)")]
    code, shown = drive_through_a_terminal(example.argv("puff", "shell"), example.path,
                                           example.env(), answers)
    assert code == 3, shown
    assert "\n24\r\n" in shown  # the model was imported automatically, the query ran
    assert "KeyboardInterrupt" in shown  # Ctrl-C at the prompt: the console goes on
