"""`puff services up|down|status`: the embedded dev PostgreSQL and Redis, run for real.

Needs the `puff` binary ($PUFF_BIN), PostgreSQL server binaries and redis-server on the machine.
Every test stops what it started (`puff services down` in a finally) and checks that no server
process outlives `down`.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

COMMAND_TIMEOUT = 120


def clean_env():
    """The environment minus PUFF_* settings that would change which config is used."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PUFF_") or k == "PUFF_BIN"}


class Project:
    """A throwaway project directory with a puff.toml naming a relative services dir."""

    def __init__(self, puff_bin, private=False):
        self.puff_bin = puff_bin
        # mkdtemp makes a 0700 dir; as root, the `postgres` user must be able to reach the
        # cluster inside it (otherwise puff keeps the cluster in postgres' home: `private`).
        self.root = tempfile.mkdtemp(prefix="puff-services-test-")
        os.chmod(self.root, 0o700 if private else 0o755)
        self.services_dir = os.path.join(self.root, "state")
        with open(os.path.join(self.root, "puff.toml"), "w") as f:
            f.write('[services]\ndir = "state"\n')

    def run(self, *args, env=None):
        return subprocess.run(
            [self.puff_bin, *args],
            cwd=self.root,
            env=env or clean_env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )

    def state(self):
        with open(os.path.join(self.services_dir, "services.json")) as f:
            return json.load(f)

    def cleanup(self):
        try:
            self.run("services", "down")
        finally:
            data = os.path.join(self.services_dir, "postgres")
            # When the cluster had to live elsewhere, <dir>/postgres is a symlink to it.
            if os.path.islink(data):
                elsewhere = os.path.realpath(data)
                shutil.rmtree(elsewhere, ignore_errors=True)
                try:
                    os.rmdir(os.path.dirname(elsewhere))  # ~postgres/puff, when now empty
                except OSError:
                    pass
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def project(puff_bin):
    p = Project(puff_bin)
    try:
        yield p
    finally:
        p.cleanup()


def describe(result):
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def process_state(pid):
    """The one-letter state of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def alive(pid):
    # Zombies count as gone: the machine's pid 1 may not reap orphans.
    return process_state(pid) not in (None, "Z", "X")


def session_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2 :].split()[3])


def processes_mentioning(*needles):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not alive(int(entry)):
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmdline for n in needles):
            found.append((int(entry), cmdline))
    return found


def server_pids(project):
    pg_pid_file = os.path.join(os.path.realpath(os.path.join(project.services_dir, "postgres")),
                               "data", "postmaster.pid")
    with open(pg_pid_file) as f:
        pg_pid = int(f.readline())
    with open(os.path.join(project.services_dir, "redis", "redis.pid")) as f:
        redis_pid = int(f.read().strip())
    return pg_pid, redis_pid


def redis_ping(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


def assert_nothing_left(project, pids, redis_port):
    for pid in pids:
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), f"server pid {pid} still running after `down`"
    # redis-server retitles itself "redis-server 127.0.0.1:PORT"; postgres keeps -D <datadir>.
    leftovers = processes_mentioning(project.root, f"127.0.0.1:{redis_port}")
    assert leftovers == [], f"processes left behind: {leftovers}"


def test_up_twice_status_connect_down_twice(project):
    first = project.run("services", "up")
    assert first.returncode == 0, describe(first)
    assert "postgres: started at postgresql://puff@127.0.0.1:" in first.stdout
    assert "redis: started at redis://127.0.0.1:" in first.stdout

    second = project.run("services", "up")
    assert second.returncode == 0, describe(second)
    assert "postgres: already running" in second.stdout
    assert "redis: already running" in second.stdout

    state = project.state()
    pg_url, redis_url = state["postgres_url"], state["redis_url"]
    assert pg_url == f"postgresql://puff@127.0.0.1:{state['postgres_port']}/puff"
    assert redis_url == f"redis://127.0.0.1:{state['redis_port']}/0"
    # `up` ends with the URLs to use.
    assert pg_url in second.stdout.splitlines()[-2]
    assert redis_url in second.stdout.splitlines()[-1]

    status = project.run("services", "status")
    assert status.returncode == 0, describe(status)
    assert f"postgres: running at {pg_url} (pid " in status.stdout
    assert f"redis: running at {redis_url} (pid " in status.stdout

    # The recorded URLs accept connections: doctor resolves "embedded" and probes both.
    doctor = project.run("doctor")
    pg_line = next(line for line in doctor.stdout.splitlines() if "postgres default" in line)
    redis_line = next(line for line in doctor.stdout.splitlines() if "redis default" in line)
    assert pg_line.startswith("ok   postgres default: PostgreSQL "), describe(doctor)
    assert f"127.0.0.1:{state['postgres_port']} (db puff)" in pg_line
    assert redis_line.startswith("ok   redis default: Redis "), describe(doctor)
    assert redis_ping(state["redis_port"]) == b"+PONG\r\n"
    if shutil.which("psql"):
        psql = subprocess.run(["psql", pg_url, "-tAc", "SELECT current_database()"],
                              capture_output=True, text=True, timeout=30)
        assert psql.stdout.strip() == "puff", psql.stderr

    # Detached: a Ctrl-C to our terminal's process group cannot reach the servers.
    pg_pid, redis_pid = server_pids(project)
    mine = os.getsid(0)
    assert session_of(pg_pid) != mine
    assert session_of(redis_pid) != mine

    down = project.run("services", "down")
    assert down.returncode == 0, describe(down)
    assert f"postgres: stopped (pid {pg_pid})" in down.stdout
    assert f"redis: stopped (pid {redis_pid})" in down.stdout
    again = project.run("services", "down")
    assert again.returncode == 0, describe(again)
    assert "not running" in again.stdout

    stopped = project.run("services", "status")
    assert stopped.returncode == 3, describe(stopped)
    assert "postgres: stopped" in stopped.stdout
    assert "redis: stopped" in stopped.stdout
    assert_nothing_left(project, [pg_pid, redis_pid], state["redis_port"])


def test_status_before_up_exits_3(project):
    status = project.run("services", "status")
    assert status.returncode == 3, describe(status)
    assert "postgres: not created yet" in status.stdout
    assert "redis: not created yet" in status.stdout


def test_doctor_says_embedded_is_not_running(project):
    doctor = project.run("doctor")
    assert doctor.returncode == 1, describe(doctor)
    fails = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL")]
    assert any(line.startswith("FAIL postgres default: embedded service is not running")
               and "puff services up" in line and "(default, not configured)" in line
               for line in fails)
    assert any(line.startswith("FAIL redis default: embedded service is not running")
               for line in fails)


def test_restart_reuses_ports_and_moves_off_a_taken_one(project):
    up = project.run("services", "up")
    assert up.returncode == 0, describe(up)
    state = project.state()
    down = project.run("services", "down")
    assert down.returncode == 0, describe(down)

    # Restart: same ports.
    up = project.run("services", "up")
    assert up.returncode == 0, describe(up)
    assert project.state()["postgres_port"] == state["postgres_port"]
    assert project.state()["redis_port"] == state["redis_port"]
    down = project.run("services", "down")
    assert down.returncode == 0, describe(down)

    # Someone else now listens on the recorded postgres port: up picks another and says so.
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        squatter.bind(("127.0.0.1", state["postgres_port"]))
        squatter.listen()
        up = project.run("services", "up")
        assert up.returncode == 0, describe(up)
        assert f"port {state['postgres_port']} is taken" in up.stdout
        moved = project.state()["postgres_port"]
        assert moved != state["postgres_port"]
        assert f"postgresql://puff@127.0.0.1:{moved}/puff" in up.stdout
        status = project.run("services", "status")
        assert status.returncode == 0, describe(status)
    finally:
        squatter.close()
    pids = server_pids(project)
    down = project.run("services", "down")
    assert down.returncode == 0, describe(down)
    assert_nothing_left(project, list(pids), state["redis_port"])


def test_killed_redis_is_reported_and_restarted(project):
    up = project.run("services", "up")
    assert up.returncode == 0, describe(up)
    _, redis_pid = server_pids(project)
    os.kill(redis_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(redis_pid) and time.monotonic() < deadline:
        time.sleep(0.05)

    status = project.run("services", "status")
    assert status.returncode == 3, describe(status)
    assert "postgres: running" in status.stdout
    assert "redis: stopped" in status.stdout

    up = project.run("services", "up")
    assert up.returncode == 0, describe(up)
    assert "postgres: already running" in up.stdout
    assert "redis: started" in up.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the cluster as another user")
def test_cluster_moves_out_of_a_dir_postgres_cannot_reach(puff_bin):
    project = Project(puff_bin, private=True)
    try:
        up = project.run("services", "up")
        assert up.returncode == 0, describe(up)
        assert "user cannot reach" in up.stdout
        link = os.path.join(project.services_dir, "postgres")
        assert os.path.islink(link)
        status = project.run("services", "status")
        assert status.returncode == 0, describe(status)
        assert os.path.realpath(link) in status.stdout  # "data in <real location>"
        pids = server_pids(project)
        down = project.run("services", "down")
        assert down.returncode == 0, describe(down)
        assert_nothing_left(project, list(pids), project.state()["redis_port"])
    finally:
        project.cleanup()


def test_unknown_action_is_a_usage_error(project):
    result = project.run("services", "restart")
    assert result.returncode == 2, describe(result)
