"""What the external-suite runners (psycopg2_suite.py, django_suite.py) share: messages, the
throwaway server, per-test event files, known-failure lists and scoring. Stdlib only."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVERS_SH = ROOT / "scripts" / "lib" / "servers.sh"
MAIN_PYTHON = ROOT / ".venv" / "bin" / "python"
PASSING = {"pass", "xfail"}


class Messages:
    """One-line progress and errors prefixed with the suite's name ("django suite: ...")."""

    def __init__(self, name):
        self.name = name

    def say(self, message):
        print(f"{self.name}: {message}", flush=True)

    def fail(self, message, code=2):
        print(f"{self.name}: error: {message}", file=sys.stderr, flush=True)
        sys.exit(code)

    def run_quiet(self, cmd, what, **kwargs):
        done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
        if done.returncode != 0:
            self.fail(f"{what} failed ({' '.join(map(str, cmd))}):\n"
                      f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
        return done.stdout

    @contextmanager
    def postgres_server(self):
        """$TEST_POSTGRES_URL, or a throwaway cluster from scripts/lib/servers.sh."""
        with self._server("PostgreSQL", "TEST_POSTGRES_URL", "start_test_postgres",
                          "TEST_PG_DIR=$1 && TEST_PG_BINDIR=$(pg_bindir)") as url:
            yield url

    @contextmanager
    def redis_server(self):
        """$TEST_REDIS_URL, or a throwaway redis-server from scripts/lib/servers.sh."""
        with self._server("Redis", "TEST_REDIS_URL", "start_test_redis",
                          "TEST_REDIS_DIR=$1") as url:
            yield url

    @contextmanager
    def _server(self, what, variable, start, stop_state):
        if os.environ.get(variable):
            yield os.environ[variable]
            return
        work = tempfile.mkdtemp(prefix=f"puff-{self.name.replace(' ', '-')}.")
        os.chmod(work, 0o755)  # a cluster runs as `postgres` when we are root
        server_dir = os.path.join(work, "server")
        env = {**os.environ, "PYTHON": str(MAIN_PYTHON)}
        try:
            started = subprocess.run(
                ["bash", "-c", f'source "$0" && {start} "$1" && echo "${variable}"',
                 SERVERS_SH, server_dir], capture_output=True, text=True, env=env)
            if started.returncode != 0:
                self.fail(f"cannot start {what}:\n{started.stderr[-3000:]}")
            url = started.stdout.strip().splitlines()[-1]
            os.environ[variable] = url
            self.say(f"throwaway {what} at {url}")
            yield url
        finally:
            subprocess.run(
                ["bash", "-c", f'source "$0" && {stop_state} && stop_test_servers', SERVERS_SH,
                 server_dir], capture_output=True, env=env)
            os.environ.pop(variable, None)
            shutil.rmtree(work, ignore_errors=True)


def stop_process_group(proc):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def read_events(path):
    """Outcomes so far, the test that started but never reported (if any), and whether the run
    reached its end."""
    outcomes, current, done = {}, None, False
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the last line of a killed process may be cut short
            if event["e"] == "start":
                current = event["id"]
            elif event["e"] == "result":
                outcomes[event["id"]] = {k: event.get(k, "")
                                         for k in ("outcome", "detail", "traceback")}
                if event["id"] == current:
                    current = None
            elif event["e"] == "done":
                done = True
    return outcomes, current, done


def mark(events, test_id, outcome, detail):
    with open(events, "a", encoding="utf-8") as f:
        f.write(json.dumps({"e": "result", "id": test_id, "outcome": outcome,
                            "detail": detail}) + "\n")


def read_known(path):
    """test id -> reason, from a known-failures file (`test.id  # reason` lines)."""
    known = {}
    if path.exists():
        for line in path.read_text().splitlines():
            test_id, _, reason = line.partition("#")
            if test_id.strip():
                known[test_id.strip()] = reason.strip()
    return known


def bucket(outcome):
    if outcome in PASSING:
        return "pass"
    return "skip" if outcome == "skip" else "fail"


def differences(reference, shim):
    """Reference passes the shim does not pass: test id -> the shim's outcome."""
    return {test_id: shim.get(test_id, {"outcome": "not run", "detail": ""})
            for test_id, ref in reference.items()
            if ref["outcome"] in PASSING and shim.get(test_id, {}).get("outcome") not in PASSING}


def run_with_restarts(name, cmd, cwd, env, paths, args, say):
    """Runs `cmd` (a suite child writing events, see read_events) until the suite reaches its
    end. A child that dies in a test (crash, or the per-test hang guard: "Timeout (" in its
    output) gets that test marked and is restarted without the tests already done, up to
    args.restarts times, all within args.timeout minutes. paths: (events, log, skip).
    Returns (status, restarts, outcomes, seconds)."""
    events, log_path, skip_path = paths
    started = time.monotonic()
    deadline = started + args.timeout * 60
    status, restarts = "complete", 0
    while True:
        with open(log_path, "a") as log:
            log_offset = log.tell()
            proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code = proc.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                code = None
            except BaseException:
                stop_process_group(proc)
                raise
            stop_process_group(proc)  # workers and tests' children may outlive the child
        _, current, done = read_events(events)
        if done:
            break
        if code is None:
            status = f"timed out after {args.timeout:g} min"
            if current:
                mark(events, current, "hang", "still running when the run timed out")
            break
        if current is None:
            status = f"died outside any test (exit code {code}); see {log_path}"
            break
        with open(log_path, errors="replace") as log:
            log.seek(log_offset)
            hung = "Timeout (" in log.read()
        mark(events, current, "hang" if hung else "crash",
             f"hang guard ({args.hang_timeout} s)" if hung else f"process died (exit code {code})")
        if restarts == args.restarts:
            status = f"died {restarts + 1} times; gave up"
            break
        restarts += 1
        say(f"{name}: {current} {'hung' if hung else 'crashed'}; restarting without the tests done")
        outcomes, _, _ = read_events(events)
        skip_path.write_text("".join(test_id + "\n" for test_id in outcomes))
    outcomes, _, _ = read_events(events)
    return status, restarts, outcomes, round(time.monotonic() - started, 1)
