"""`puff doctor` against real servers: the throwaway PostgreSQL and Redis that scripts/test
starts ($TEST_POSTGRES_URL, $TEST_REDIS_URL) and ports where nothing listens."""

import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse

import pytest

COMMAND_TIMEOUT = 120


def required_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: scripts/test starts a throwaway server and sets it")
    return value


@pytest.fixture
def test_postgres_url():
    return required_env("TEST_POSTGRES_URL")


@pytest.fixture
def test_redis_url():
    return required_env("TEST_REDIS_URL")


@pytest.fixture
def project_dir():
    path = tempfile.mkdtemp(prefix="puff-doctor-test-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_doctor(puff_bin, project_dir, **env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUFF_") or k == "PUFF_BIN"}
    env.update(env_overrides)
    return subprocess.run([puff_bin, "doctor"], cwd=project_dir, env=env, capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT)


def describe(result):
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def lines_starting(result, prefix):
    return [line for line in result.stdout.splitlines() if line.startswith(prefix)]


def with_password(redis_url, password):
    parts = urllib.parse.urlsplit(redis_url)
    if parts.scheme == "unix":
        query = urllib.parse.parse_qs(parts.query)
        query["password"] = [password]
        encoded = urllib.parse.urlencode(query, doseq=True)
        return urllib.parse.urlunsplit(parts._replace(query=encoded))
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{parts.username or ''}:{urllib.parse.quote(password)}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def test_all_ok_with_the_test_servers(puff_bin, project_dir, test_postgres_url, test_redis_url):
    result = run_doctor(puff_bin, project_dir, PUFF_DEFAULT_POSTGRES_URL=test_postgres_url,
                        PUFF_DEFAULT_REDIS_URL=test_redis_url)
    assert result.returncode == 0, describe(result)
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("ok   ") for line in lines), describe(result)
    assert any(line.startswith("ok   python: ") for line in lines)
    assert any(line.startswith("ok   greenlet: ") for line in lines)
    assert any(line.startswith("ok   django: ") for line in lines)
    pg = next(line for line in lines if line.startswith("ok   postgres default: PostgreSQL "))
    assert "(url from PUFF_DEFAULT_POSTGRES_URL)" in pg
    redis = next(line for line in lines if line.startswith("ok   redis default: Redis "))
    assert "(url from PUFF_DEFAULT_REDIS_URL)" in redis


def test_unreachable_postgres_is_one_fail_line(puff_bin, project_dir, test_redis_url):
    port = free_port()
    result = run_doctor(puff_bin, project_dir,
                        PUFF_DEFAULT_POSTGRES_URL=f"postgresql://puff@127.0.0.1:{port}/puff",
                        PUFF_DEFAULT_REDIS_URL=test_redis_url)
    assert result.returncode == 1, describe(result)
    fails = lines_starting(result, "FAIL")
    assert len(fails) == 1, describe(result)
    assert fails[0].startswith("FAIL postgres default: ")
    assert f"127.0.0.1:{port}" in fails[0]
    assert "refused" in fails[0]
    assert "(url from PUFF_DEFAULT_POSTGRES_URL)" in fails[0]


def test_unreachable_redis_is_one_fail_line(puff_bin, project_dir, test_postgres_url):
    port = free_port()
    result = run_doctor(puff_bin, project_dir, PUFF_DEFAULT_POSTGRES_URL=test_postgres_url,
                        PUFF_DEFAULT_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert result.returncode == 1, describe(result)
    fails = lines_starting(result, "FAIL")
    assert len(fails) == 1, describe(result)
    assert fails[0].startswith("FAIL redis default: ")
    assert f"127.0.0.1:{port}" in fails[0]


def test_wrong_redis_password_fails(puff_bin, project_dir, test_postgres_url, test_redis_url):
    result = run_doctor(puff_bin, project_dir, PUFF_DEFAULT_POSTGRES_URL=test_postgres_url,
                        PUFF_DEFAULT_REDIS_URL=with_password(test_redis_url, "not-the-password"))
    assert result.returncode == 1, describe(result)
    fails = lines_starting(result, "FAIL")
    assert len(fails) == 1, describe(result)
    assert fails[0].startswith("FAIL redis default: authentication failed"), describe(result)
    assert "not-the-password" not in result.stdout


def test_named_entries_from_the_file(puff_bin, project_dir, test_postgres_url, test_redis_url):
    port = free_port()
    with open(os.path.join(project_dir, "puff.toml"), "w") as f:
        f.write(f'[[postgres]]\nname = "default"\nurl = "{test_postgres_url}"\n\n'
                f'[[postgres]]\nname = "replica"\nurl = "postgresql://x@127.0.0.1:{port}/x"\n\n'
                f'[[redis]]\nname = "default"\nurl = "{test_redis_url}"\n')
    result = run_doctor(puff_bin, project_dir)
    assert result.returncode == 1, describe(result)
    fails = lines_starting(result, "FAIL")
    assert len(fails) == 1, describe(result)
    assert fails[0].startswith("FAIL postgres replica: ")
    assert "(url from puff.toml)" in fails[0]
    assert any(line.startswith("ok   postgres default: ") and "(url from puff.toml)" in line
               for line in result.stdout.splitlines())


def test_invalid_redis_url_scheme_reports_tls(puff_bin, project_dir, test_postgres_url):
    result = run_doctor(puff_bin, project_dir, PUFF_DEFAULT_POSTGRES_URL=test_postgres_url,
                        PUFF_DEFAULT_REDIS_URL="rediss://127.0.0.1:6380/0")
    assert result.returncode == 1, describe(result)
    fails = lines_starting(result, "FAIL")
    assert len(fails) == 1 and "TLS" in fails[0], describe(result)
