"""What `puff pytest [ARGS]` runs as the main task on the hub: pytest itself, with one extra
plugin object (not an entry point, so plain `pytest` never sees it). Plugins, including
pytest-django and pytest-xdist, are found by their entry points as usual."""
import os
import re
import shlex
import sys

import pytest
from _pytest.config import _main as pytest_main_with_prog  # pinned pytest 9: names the program

# Set by the CLI from puff.toml's django_settings (or PUFF_DJANGO_SETTINGS).
CONFIG_SETTINGS_ENV = "PUFF_DJANGO_SETTINGS"
# The entry point that makes a puff process behave as `python -u -c CODE` for execnet.
WORKER_ENTRY = "django_puff.testing.python_compat:main"


class PuffPlugin:
    """puff.toml's django_settings as the lowest-precedence settings source, and xdist's local
    workers started inside puff instead of plain python."""

    @pytest.hookimpl(wrapper=True)
    def pytest_load_initial_conftests(self, early_config, parser, args):
        # pytest-django's precedence is --ds, then DJANGO_SETTINGS_MODULE, then the ini file; it
        # reads them in this same hook, so the fallback goes into the environment before it runs.
        source = _settings_source(early_config)
        if source == "puff.toml":
            os.environ["DJANGO_SETTINGS_MODULE"] = os.environ[CONFIG_SETTINGS_ENV]
        try:
            return (yield)
        except ImportError as error:
            # pytest-django re-raises a missing settings module as a bare ImportError, which
            # pytest shows as a page of traceback: say it in one line instead (same exit code).
            module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
            missing = re.match(r"No module named '([^']+)'", str(error))
            if module and missing and (module + ".").startswith(missing.group(1) + "."):
                raise SettingsNotFound(
                    f"no Django settings module '{module}' (from {source}): no module named "
                    f"'{missing.group(1)}'") from None
            raise

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        # xdist turned `-n N` into N "popen" specs in pytest_cmdline_main, before this hook; its
        # nodes are started at session start, after it. A spec that names no python of its own
        # would start sys.executable (plain python): give it puff instead.
        specs = getattr(config.option, "tx", None)
        if specs:
            config.option.tx = [_in_puff(spec) for spec in specs]


class SettingsNotFound(Exception):
    """The settings module pytest-django was told to use does not exist."""


def _settings_source(early_config):
    """Where pytest-django will take the settings module from, in its order; "puff.toml" when
    only puff's configuration names one, None when nothing does."""
    if getattr(early_config.known_args_namespace, "ds", None):
        return "--ds"
    if "DJANGO_SETTINGS_MODULE" in os.environ:
        return "DJANGO_SETTINGS_MODULE"
    try:
        if early_config.getini("DJANGO_SETTINGS_MODULE"):
            return "the ini file"
    except ValueError:  # pytest-django is not installed: no such ini key
        return None
    return "puff.toml" if os.environ.get(CONFIG_SETTINGS_ENV) else None


def worker_command():
    """The command line of a puff process that acts as `python` for execnet's bootstrap."""
    command = [os.readlink("/proc/self/exe")]
    if os.environ.get("PUFF_CONFIG"):
        command += ["--config", os.environ["PUFF_CONFIG"]]
    # Workers serve one test run each, like the controller: no stall warnings (puff pytest's
    # default; the controller's --watchdog-ms is not passed on).
    command += ["--watchdog-ms", "0", "python", WORKER_ENTRY]
    return shlex.join(command)


def _in_puff(spec):
    parts = spec.split("//")
    # "popen", "id=x//popen", or "3*popen" (xdist expands the count later).
    local = any(part.rpartition("*")[2] == "popen" for part in parts)
    if not local or any(part.startswith("python=") for part in parts):
        return spec  # ssh/socket gateways, or a python the user chose
    return spec + "//python=" + worker_command()


def main():
    try:
        code = pytest_main_with_prog(plugins=[PuffPlugin()], prog="puff pytest")
        sys.stdout.flush()
    except SettingsNotFound as error:
        print(f"puff pytest: {error}", file=sys.stderr)
        return 1  # what pytest exits with on this ImportError
    except BrokenPipeError:
        # As pytest's console script: output goes nowhere from now on, exit code 1 (EPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return int(code)
