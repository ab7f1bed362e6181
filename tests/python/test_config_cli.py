"""Configuration and the command line, through the real `puff` binary: --version/--help, the
example config, one-line config errors (file:line, key, what is allowed, exit 2), the
environment overlay and its precedence, [[commands]] subcommands, and config-file discovery."""
import re
import textwrap
import time

import pytest

SEMVER = r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"

# A job that leaves a marker as soon as Python imports it: a config error must stop the run
# before that.
JOB = """
    import pathlib, sys
    pathlib.Path("python-started").write_text("yes")
    import puff

    def main():
        return 0

    def stats():
        s = puff.stats()
        print("io_threads", s["io_threads"])
        print("blocking_threads_max", s["blocking_threads_max"])

    def argv():
        print(repr(sys.argv))

    def path0():
        print(sys.path[0])

    def hello():
        print(repr(sys.argv))
        return 7
"""


@pytest.fixture
def job(project):
    project.write("job.py", JOB)
    return project


def one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{stderr}"
    return lines[0]


def toml(text):
    return textwrap.dedent(text).lstrip("\n")


# --- 1. --version, --help, no command, unknown command ------------------------------------------

def test_version_prints_name_and_semver(project):
    result = project.run("--version")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"puff {SEMVER}", result.stdout.strip()), result.stdout


def test_help_lists_the_builtin_commands(project):
    result = project.run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("python", "doctor", "example-config", "services"):
        assert re.search(rf"^\s+{re.escape(command)}\s", result.stdout, re.M), \
            f"{command} missing from --help:\n{result.stdout}"


def test_no_command_is_a_usage_error(project):
    result = project.run()
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip(), "no explanation on stderr"


def test_unknown_command_is_a_usage_error(project):
    result = project.run("bogus")
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    assert "unknown command 'bogus'" in line, line
    assert "python" in line, f"the message should list the known commands: {line}"
    assert "internal error" not in result.stderr


# --- 2. example-config ---------------------------------------------------------------------------

def test_example_config_is_a_loadable_config(job):
    result = job.run("example-config")
    assert result.returncode == 0, result.stderr
    assert "[runtime]" in result.stdout and "[[postgres]]" in result.stdout
    job.write("example.toml", result.stdout)
    run = job.run("--config", "example.toml", "python", "job:main")
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr
    assert (job.path / "python-started").exists()


def test_example_config_ignores_a_broken_puff_toml(job):
    job.write("puff.toml", "[runtime\nio_threads = 1\n")
    result = job.run("example-config")
    assert result.returncode == 0, result.stderr
    assert "[runtime]" in result.stdout
    # --version and --help don't need the config either
    assert job.run("--version").returncode == 0
    assert job.run("--help").returncode == 0
    # ... but a command that runs does
    run = job.run("python", "job:main")
    assert run.returncode == 2
    assert one_line(run.stderr).startswith("puff: puff.toml:1: ")


def test_example_config_ignores_a_missing_config_file(project):
    result = project.run("example-config", env={"PUFF_CONFIG": "does-not-exist.toml"})
    assert result.returncode == 0, result.stderr
    assert "[runtime]" in result.stdout


# --- 3. bad config: exit 2, one line, file:line, key, what is allowed ----------------------------

BAD_CONFIGS = {
    "unknown_key": (
        """
        # settings for the runtime
        [runtime]
        watchdog_ms = 100
        io_thread = 3
        """,
        4, ['unknown key "io_thread"', "[runtime]", 'did you mean "io_threads"?',
            "allowed keys: io_threads, blocking_threads, watchdog_ms, log_level"]),
    "unknown_top_level_table": (
        """
        # comment

        [runtim]
        io_threads = 1
        """,
        3, ['unknown key "runtim"', "top level", 'did you mean "runtime"?', "allowed keys:"]),
    "wrong_type": (
        """
        # comment
        [runtime]
        io_threads = "3"
        """,
        3, ["[runtime] io_threads", "must be an integer", "got string"]),
    "wrong_type_bool": (
        """
        [http]
        workers = 1
        reload = "yes"
        """,
        3, ["[http] reload", "must be a boolean", "got string"]),
    "out_of_range": (
        """
        # comment

        [runtime]
        io_threads = 2
        blocking_threads = 0
        """,
        5, ["[runtime] blocking_threads", "out of range", "1..1024"]),
    "out_of_range_http": (
        """
        [http]
        bind = "127.0.0.1:8000"
        workers = 0
        """,
        3, ["[http] workers", "out of range", "1..256"]),
    "bad_enum": (
        """
        [runtime]
        io_threads = 1
        log_level = "loud"
        """,
        3, ["[runtime] log_level", '"loud"', "debug, info, warning, error"]),
    "bad_enum_suggestion": (
        """
        [runtime]
        log_level = "warn"
        """,
        2, ["[runtime] log_level", '"warn"', "debug, info, warning, error",
            'did you mean "warning"?']),
    "duplicate_postgres_name": (
        """
        [[postgres]]
        name = "default"
        url = "postgresql://app@127.0.0.1:5432/app"

        [[postgres]]
        name = "default"
        url = "postgresql://app@127.0.0.1:5433/app"
        """,
        6, ['[[postgres]] name', '"default"', "already used at line 2", "unique name"]),
    "bad_postgres_url": (
        """
        # the database
        [[postgres]]
        name = "default"
        url = "mysql://app@127.0.0.1/app"
        """,
        4, ["[[postgres]] url", '"mysql"', "postgresql://", "embedded"]),
    "bad_postgres_conninfo": (
        """
        [[postgres]]
        name = "default"
        url = "host='unterminated"
        """,
        3, ["[[postgres]] url", "unterminated", "postgresql://"]),
    "bad_redis_url": (
        """
        [[redis]]
        name = "cache"
        url = "http://127.0.0.1:6379/0"
        """,
        3, ["[[redis]] url", '"http"', "redis://", "unix://"]),
    "bad_redis_port": (
        """
        [[redis]]
        name = "cache"

        url = "redis://127.0.0.1:99999/0"
        """,
        4, ["[[redis]] url", "99999", "1..65535", "redis://"]),
    "bad_bind_no_port": (
        """
        [http]
        workers = 1
        bind = "localhost"
        """,
        3, ["[http] bind", '"localhost"', "HOST:PORT", "[IPv6]:PORT", "unix:"]),
    "bad_bind_port": (
        """
        [http]
        bind = "127.0.0.1:70000"
        """,
        2, ["[http] bind", "70000", "0..65535", "HOST:PORT"]),
    "toml_syntax_error": (
        """
        # one
        # two
        [runtime]
        watchdog_ms = 5
        io_threads = = 3
        log_level = "info"
        """,
        5, ["valid TOML"]),
    "toml_unclosed_table_header": (
        """
        project_dir = "."

        [runtime
        io_threads = 1
        """,
        3, ["valid TOML", "]"]),
    "toml_duplicate_key": (
        """
        [runtime]
        io_threads = 1
        watchdog_ms = 5
        io_threads = 2
        """,
        4, ["valid TOML", "io_threads"]),
    "command_named_like_a_builtin": (
        """
        # project commands

        [[commands]]
        name = "doctor"
        function = "job:main"
        """,
        4, ["[[commands]] name", '"doctor"', "built-in", "python", "example-config"]),
    "command_without_function": (
        """
        [[commands]]
        name = "ok"
        function = "job:main"

        [[commands]]
        name = "hello"
        help = "Say hello"
        """,
        5, ["[[commands]]", "has no function", "module:function"]),
    "command_bad_function_ref": (
        """
        [[commands]]
        name = "hello"
        function = "job.main"
        """,
        3, ["[[commands]] function", '"job.main"', "module:function"]),
}


@pytest.mark.parametrize("text,line,fragments", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_one_line_with_file_and_line(job, text, line, fragments):
    job.write("bad.toml", toml(text))
    result = job.run("--config", "bad.toml", "python", "job:main")
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    message = one_line(result.stderr)
    assert message.startswith(f"puff: bad.toml:{line}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert not (job.path / "python-started").exists(), "Python started despite the bad config"
    assert result.stdout == ""


def test_bad_puff_toml_found_automatically_is_named(job):
    job.write("puff.toml", toml("""
        [runtime]
        io_threads = 1
        io_treads = 2
    """))
    result = job.run("python", "job:main")
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: puff.toml:3: "), message
    assert 'did you mean "io_threads"?' in message
    assert not (job.path / "python-started").exists()


def test_missing_config_file(job):
    result = job.run("--config", "missing.toml", "python", "job:main")
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: missing.toml: "), message
    assert "not found" in message
    assert not (job.path / "python-started").exists()


def test_config_path_is_a_directory(job):
    (job.path / "confdir").mkdir()
    result = job.run("--config", "confdir", "python", "job:main")
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: confdir: "), message
    assert "directory" in message
    assert not (job.path / "python-started").exists()


def test_project_dir_that_does_not_exist(job):
    job.write("bad.toml", '# comment\nproject_dir = "nope"\n')
    result = job.run("--config", "bad.toml", "python", "job:main")
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: bad.toml:2: project_dir"), message
    assert "not a directory" in message
    assert not (job.path / "python-started").exists()


def test_broken_config_fails_a_command_it_would_define(job):
    job.write("puff.toml", toml("""
        [[commands]]
        name = "hello"
        function = "job:hello"
        bogus = 1
    """))
    result = job.run("hello")
    assert result.returncode == 2
    assert "puff.toml:4" in result.stderr and '"bogus"' in result.stderr, result.stderr
    assert not (job.path / "python-started").exists()


# --- 4. environment overlay and precedence -------------------------------------------------------

def stats_of(result):
    assert result.returncode == 0, result.stderr
    return dict(line.split() for line in result.stdout.splitlines() if line.strip())


def test_bad_env_integer_names_the_variable(job):
    result = job.run("python", "job:main", env={"PUFF_IO_THREADS": "abc"})
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: PUFF_IO_THREADS: "), message
    assert '"abc"' in message and "0..256" in message
    assert not (job.path / "python-started").exists()


@pytest.mark.parametrize("variable,value,fragments", [
    ("PUFF_BLOCKING_THREADS", "0", ["1..1024"]),
    ("PUFF_LOG_LEVEL", "loud", ["debug, info, warning, error", '"loud"']),
    ("PUFF_DEFAULT_POSTGRES_URL", "mysql://x", ['"mysql"', "postgresql://"]),
    ("PUFF_DEFAULT_REDIS_URL", "http://x", ['"http"', "redis://"]),
    ("PUFF_BIND", "localhost", ["HOST:PORT"]),
])
def test_bad_env_values_name_the_variable(job, variable, value, fragments):
    result = job.run("python", "job:main", env={variable: value})
    assert result.returncode == 2, result.stderr
    message = one_line(result.stderr)
    assert message.startswith(f"puff: {variable}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert not (job.path / "python-started").exists()


def test_empty_env_value_counts_as_unset(job):
    job.write("puff.toml", "[runtime]\nio_threads = 3\n")
    stats = stats_of(job.run("python", "job:stats", env={"PUFF_IO_THREADS": ""}))
    assert stats["io_threads"] == "3"


def test_io_threads_precedence_file_env_flag(job):
    job.write("conf.toml", "[runtime]\nio_threads = 3\n")
    base = ("--config", "conf.toml")
    assert stats_of(job.run(*base, "python", "job:stats"))["io_threads"] == "3"
    env = {"PUFF_IO_THREADS": "2"}
    assert stats_of(job.run(*base, "python", "job:stats", env=env))["io_threads"] == "2"
    flagged = job.run(*base, "--io-threads", "1", "python", "job:stats", env=env)
    assert stats_of(flagged)["io_threads"] == "1"
    # the flag wins over the file without the environment too
    assert stats_of(job.run(*base, "--io-threads=1", "python", "job:stats"))["io_threads"] == "1"


def test_blocking_threads_precedence_file_env_flag(job):
    job.write("conf.toml", "[runtime]\nblocking_threads = 5\n")
    base = ("--config", "conf.toml")
    assert stats_of(job.run(*base, "python", "job:stats"))["blocking_threads_max"] == "5"
    env = {"PUFF_BLOCKING_THREADS": "7"}
    assert stats_of(job.run(*base, "python", "job:stats", env=env))["blocking_threads_max"] == "7"
    flagged = job.run(*base, "--blocking-threads", "3", "python", "job:stats", env=env)
    assert stats_of(flagged)["blocking_threads_max"] == "3"


def test_global_flag_after_the_subcommand(job):
    # app.fallthrough(): global options are accepted after the subcommand, before MODULE:FUNCTION
    result = job.run("python", "--io-threads", "1", "job:stats")
    assert stats_of(result)["io_threads"] == "1"


def test_flag_out_of_range_names_the_flag(job):
    result = job.run("--io-threads", "999", "python", "job:main")
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: --io-threads: "), message
    assert "0..256" in message and "999" in message
    assert not (job.path / "python-started").exists()


def test_flag_not_a_number_names_the_flag(job):
    result = job.run("--io-threads", "abc", "python", "job:main")
    assert result.returncode == 2
    assert "--io-threads" in result.stderr and "abc" in result.stderr, result.stderr
    assert not (job.path / "python-started").exists()


def test_bad_log_level_flag(job):
    result = job.run("--log-level", "loud", "python", "job:main")
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: --log-level: "), message
    assert "debug, info, warning, error" in message and '"loud"' in message
    assert not (job.path / "python-started").exists()


# --- 5. [[commands]] as subcommands ---------------------------------------------------------------

COMMANDS = """
    [[commands]]
    name = "hello"
    function = "job:hello"
    help = "Say hello"

    [[commands]]
    name = "broken"
    function = "nosuchmodule:main"
"""


def test_command_runs_with_its_arguments_and_exit_code(job):
    job.write("puff.toml", COMMANDS)
    result = job.run("hello", "a", "--x")
    assert result.returncode == 7, result.stderr
    assert result.stdout.strip() == repr(["job:hello", "a", "--x"])


def test_command_gets_help_flag_as_an_argument(job):
    job.write("puff.toml", COMMANDS)
    result = job.run("hello", "--help")
    assert result.returncode == 7, result.stderr
    assert result.stdout.strip() == repr(["job:hello", "--help"])


def test_command_from_explicit_config(job):
    job.write("cmds.toml", COMMANDS)
    result = job.run("--config", "cmds.toml", "hello", "b")
    assert result.returncode == 7, result.stderr
    assert result.stdout.strip() == repr(["job:hello", "b"])


def test_help_lists_commands_with_their_help(job):
    job.write("puff.toml", COMMANDS)
    result = job.run("--help")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+hello\s+Say hello\s*$", result.stdout, re.M), result.stdout
    assert re.search(r"^\s+broken\s", result.stdout, re.M), result.stdout


def test_command_with_missing_module_is_one_line(job):
    job.write("puff.toml", COMMANDS)
    result = job.run("broken")
    assert result.returncode == 1, result.stderr
    message = one_line(result.stderr)
    assert "nosuchmodule" in message, message
    assert "Traceback" not in result.stderr


def test_command_args_named_like_puff_flags_belong_to_the_command(job):
    # Everything after the command name is sys.argv[1:]: "--config" there is the command's own.
    job.write("puff.toml", COMMANDS)
    result = job.run("hello", "--config", "not-a-file.toml")
    assert result.returncode == 7, result.stderr
    assert result.stdout.strip() == repr(["job:hello", "--config", "not-a-file.toml"])


def test_python_args_named_like_puff_flags_belong_to_the_program(job):
    result = job.run("python", "job:argv", "--config", "not-a-file.toml", "--io-threads", "999")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(
        ["job:argv", "--config", "not-a-file.toml", "--io-threads", "999"])


# --- 6. backends are not needed by commands that don't use them -----------------------------------

def test_unreachable_backends_do_not_block_python(job):
    job.write("backends.toml", toml("""
        [[postgres]]
        name = "default"
        url = "postgresql://nobody@127.0.0.1:1/x"

        [[redis]]
        name = "default"
        url = "redis://127.0.0.1:1/0"
    """))
    start = time.monotonic()
    result = job.run("--config", "backends.toml", "python", "job:main", timeout=30)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert elapsed < 5, f"puff python took {elapsed:.1f} s with unreachable backends"


def test_unreachable_backends_from_env_do_not_block_python(job):
    env = {"PUFF_DEFAULT_POSTGRES_URL": "postgresql://nobody@127.0.0.1:1/x",
           "PUFF_DEFAULT_REDIS_URL": "redis://127.0.0.1:1/0"}
    start = time.monotonic()
    result = job.run("python", "job:main", env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 5


# --- 7. finding the config file and project_dir ---------------------------------------------------

def test_puff_config_env_selects_the_file(job):
    # The config file's directory is the project directory: the job lives next to it.
    job.write("elsewhere/conf.toml", "[runtime]\nio_threads = 3\n")
    job.write("elsewhere/job.py", JOB)
    result = job.run("python", "job:stats", env={"PUFF_CONFIG": "elsewhere/conf.toml"})
    assert stats_of(result)["io_threads"] == "3"
    path0 = job.run("python", "job:path0", env={"PUFF_CONFIG": "elsewhere/conf.toml"})
    assert path0.returncode == 0, path0.stderr
    assert path0.stdout.strip() == str((job.path / "elsewhere").resolve())


def test_puff_config_env_selects_the_file_in_the_cwd(job):
    job.write("other.toml", "[runtime]\nio_threads = 3\n")
    job.write("puff.toml", "[runtime]\nio_threads = 4\n")
    result = job.run("python", "job:stats", env={"PUFF_CONFIG": "other.toml"})
    assert stats_of(result)["io_threads"] == "3"


def test_config_flag_beats_puff_config_env(job):
    job.write("flag.toml", "[runtime]\nio_threads = 1\n")
    result = job.run("--config", "flag.toml", "python", "job:stats",
                     env={"PUFF_CONFIG": "missing.toml"})
    assert stats_of(result)["io_threads"] == "1"


def test_bad_puff_config_env_is_named(job):
    result = job.run("python", "job:main", env={"PUFF_CONFIG": "missing.toml"})
    assert result.returncode == 2
    message = one_line(result.stderr)
    assert message.startswith("puff: missing.toml: ") and "not found" in message, message


def test_puff_toml_in_the_cwd_is_found(job):
    job.write("puff.toml", "[runtime]\nio_threads = 3\nblocking_threads = 6\n")
    stats = stats_of(job.run("python", "job:stats"))
    assert stats == {"io_threads": "3", "blocking_threads_max": "6"}


def test_no_config_uses_defaults(job):
    stats = stats_of(job.run("python", "job:stats"))
    assert stats["blocking_threads_max"] == "16"


def test_project_dir_is_first_on_sys_path(job):
    job.write("src/app_job.py", """
        import sys
        def main():
            print(sys.path[0])
    """)
    job.write("puff.toml", 'project_dir = "src"\n')
    result = job.run("python", "app_job:main")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str((job.path / "src").resolve())


def test_project_dir_is_relative_to_the_config_file(job):
    job.write("deploy/src/app_job.py", """
        import sys
        def main():
            print(sys.path[0])
    """)
    job.write("deploy/puff.toml", 'project_dir = "src"\n')
    result = job.run("--config", "deploy/puff.toml", "python", "app_job:main")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str((job.path / "deploy" / "src").resolve())


def test_project_dir_defaults_to_the_cwd(job):
    result = job.run("python", "job:path0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(job.path.resolve())
