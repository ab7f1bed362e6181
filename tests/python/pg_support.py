"""A PostgreSQL cluster of a test module's own (scripts/lib/servers.sh), for tests that stop and
restart the server: the shared one of $TEST_POSTGRES_URL serves other tests and must not be
stopped (and it trusts every login)."""
import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVERS_SH = ROOT / "scripts" / "lib" / "servers.sh"


class Cluster:
    """A throwaway PostgreSQL cluster: stop/start it for real, run SQL with psql."""

    def __init__(self, directory):
        self.directory = directory
        out = self._sh('start_test_postgres "$1" && echo "$TEST_POSTGRES_URL" && pg_bindir',
                       directory).splitlines()
        self.url, self.bindir = out[-2], out[-1]
        self.port = urlparse(self.url).port

    def _sh(self, script, *args):
        done = subprocess.run(["bash", "-c", f'source "$0" && {script}', SERVERS_SH, *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{script}: {done.stdout}{done.stderr}"
        return done.stdout

    def stop(self):
        self._sh('stop_test_postgres "$1" fast', self.directory)

    def start(self):
        self._sh('run_test_postgres "$1" "$2"', self.directory, str(self.port))

    def sql(self, query):
        done = subprocess.run([f"{self.bindir}/psql", self.url, "-X", "-At", "-v",
                               "ON_ERROR_STOP=1", "-c", query],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def backends(self, application_name):
        return int(self.sql("select count(*) from pg_stat_activity "
                            f"where application_name = '{application_name}'"))

    def require_password_for(self, role, password):
        """`role` logs in over TCP with SCRAM; every other login stays trusted."""
        self.sql(f"drop role if exists {role}; create role {role} login password '{password}'")
        hba = Path(self.directory) / "data" / "pg_hba.conf"
        # Written in place: the file keeps its owner (the server's user).
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        self.sql("select pg_reload_conf()")

    def remove(self):
        self._sh('stop_test_postgres "$1" immediate || true', self.directory)


@contextlib.contextmanager
def throwaway_cluster(prefix):
    """A Cluster in a temp dir, removed afterwards; skips without bash."""
    if shutil.which("bash") is None:
        pytest.skip("needs bash for scripts/lib/servers.sh")
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)  # the cluster runs as `postgres` when we are root
    server = None
    try:
        server = Cluster(os.path.join(work, "postgres"))
        yield server
    finally:
        if server:
            server.remove()
        shutil.rmtree(work, ignore_errors=True)
