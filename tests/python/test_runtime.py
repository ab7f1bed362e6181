"""The hub and the `puff` module, driven through `puff python MODULE:FUNCTION` (real processes)."""
import os
import signal
import subprocess
import time

import pytest


def run_job(project, source, *args, env=None, timeout=60):
    project.write("job.py", source)
    return project.run("python", "job:main", *args, env=env, timeout=timeout)


def test_thousand_sleepers_finish_together(project):
    result = run_job(project, """
        import time, puff
        def sleeper(i):
            puff.sleep(0.2)
            return i
        def main():
            start = time.monotonic()
            tasks = [puff.spawn(sleeper, i) for i in range(1000)]
            results = puff.join_all(tasks)
            assert results == list(range(1000)), results[:10]
            print(f"elapsed {time.monotonic() - start:.3f}")
    """)
    assert result.returncode == 0, result.stderr
    elapsed = float(result.stdout.split()[-1])
    # Sequentially this would take 200 s; overlapped it is one sleep plus overhead.
    assert elapsed < 10, elapsed


def test_ticker_keeps_ticking_while_another_greenlet_waits(project):
    result = run_job(project, """
        import puff
        ticks = []
        def ticker():
            for _ in range(100):
                ticks.append(1)
                puff.sleep(0.01)
        def waiter():
            puff.sleep(0.5)
            return len(ticks)
        def main():
            t = puff.spawn(ticker)
            seen = puff.spawn(waiter).join()
            t.join()
            print("ticks-during-wait", seen)
    """)
    assert result.returncode == 0, result.stderr
    seen = int(result.stdout.split()[-1])
    assert seen >= 10, f"the ticker ran only {seen} times during a 0.5 s wait"


def test_exception_reaches_join_with_its_traceback(project):
    result = run_job(project, """
        import puff, traceback
        def inner():
            raise ValueError("boom from the task")
        def failing():
            puff.sleep(0.01)
            inner()
        def main():
            task = puff.spawn(failing)
            try:
                task.join()
            except ValueError as e:
                text = "".join(traceback.format_exception(e))
                assert "boom from the task" in text
                assert "in inner" in text and "in failing" in text, text
                assert task.finished and task.exception is e and task.result is None
                print("ok")
                return 0
            return 1
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_join_timeout_and_result(project):
    result = run_job(project, """
        import puff
        def slow():
            puff.sleep(0.3)
            return 42
        def main():
            task = puff.spawn(slow)
            try:
                task.join(timeout=0.05)
            except TimeoutError:
                pass
            else:
                raise AssertionError("join(timeout) did not time out")
            assert not task.finished
            assert task.join(timeout=5) == 42
            assert task.result == 42 and task.exception is None and task.finished
            assert task.join() == 42  # joining again returns the same result
            print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_join_all_raises_first_failure_and_names_the_others(project):
    result = run_job(project, """
        import puff
        def ok(v):
            return v
        def bad(msg):
            puff.sleep(0.01)
            raise KeyError(msg)
        def main():
            tasks = [puff.spawn(ok, 1), puff.spawn(bad, "first"), puff.spawn(bad, "second")]
            try:
                puff.join_all(tasks)
            except KeyError as e:
                assert e.args == ("first",), e.args
                notes = getattr(e, "__notes__", [])
                assert any("second" in n for n in notes), notes
            else:
                raise AssertionError("join_all swallowed the errors")
            mixed = puff.join_all(tasks, return_exceptions=True)
            assert mixed[0] == 1 and isinstance(mixed[1], KeyError) and \
                isinstance(mixed[2], KeyError)
            try:
                puff.join_all([1])
            except TypeError:
                pass
            else:
                raise AssertionError("join_all accepted a non-task")
            print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_run_blocking_does_not_stall_the_hub(project):
    result = run_job(project, """
        import threading, time, puff
        hub_thread = threading.get_ident()
        ticks = []
        def ticker():
            for _ in range(30):
                ticks.append(1)
                puff.sleep(0.01)
        @puff.blocking
        def blocking_io(x):
            time.sleep(0.3)       # would stall every greenlet if it ran on the hub
            return (x, threading.get_ident() != hub_thread)
        def main():
            t = puff.spawn(ticker)
            value, off_hub = blocking_io(7)
            assert value == 7 and off_hub
            assert len(ticks) >= 10, len(ticks)
            assert puff.run_blocking(lambda a, b=0: a + b, 1, b=2) == 3
            try:
                puff.run_blocking(lambda: 1 / 0)
            except ZeroDivisionError:
                pass
            else:
                raise AssertionError("the exception of a blocking call was lost")
            t.join()
            assert blocking_io.__name__ == "blocking_io"
            print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_blocking_pool_is_bounded(project):
    result = run_job(project, """
        import threading, time, puff
        active = []
        peak = [0]
        lock = threading.Lock()
        @puff.blocking
        def work():
            with lock:
                active.append(1); peak[0] = max(peak[0], len(active))
            time.sleep(0.05)
            with lock:
                active.pop()
        def main():
            puff.join_all([puff.spawn(work) for _ in range(40)])
            stats = puff.stats()
            print(peak[0], stats["blocking_threads"], stats["blocking_threads_max"])
    """, env={"PUFF_BLOCKING_THREADS": "3"})
    assert result.returncode == 0, result.stderr
    peak, started, size = map(int, result.stdout.split())
    assert size == 3 and started <= 3 and peak <= 3, result.stdout


def test_current_is_hub_and_context_isolation(project):
    result = run_job(project, """
        import contextvars, threading, puff
        var = contextvars.ContextVar("var", default="unset")
        def child(expected):
            assert var.get() == expected, (var.get(), expected)
            var.set("child-changed")
            return puff.current()
        def main():
            me = puff.current()
            assert isinstance(me, puff.Task) and puff.is_hub()
            var.set("parent")
            task = puff.spawn(child, "parent")   # spawn copies the caller's context
            assert task.join() is task and task is not me
            assert var.get() == "parent"          # the child's change stayed in its context
            off_hub = puff.run_blocking(lambda: (puff.is_hub(), puff.current()))
            assert off_hub == (False, None), off_hub
            print("ok", me.name)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "main"]


def test_spawn_from_a_blocking_thread_runs_on_the_hub(project):
    result = run_job(project, """
        import threading, puff
        hub = threading.get_ident()
        def on_hub():
            return threading.get_ident() == hub and puff.is_hub()
        def from_thread():
            return puff.spawn(on_hub).join(timeout=5)
        def main():
            assert puff.run_blocking(from_thread) is True
            print("ok")
    """)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("body, code, stream_text", [
    ("return None", 0, ""),
    ("return 3", 3, ""),
    ("raise SystemExit(4)", 4, ""),
    ("raise SystemExit('bye now')", 1, "bye now"),
    ("return 'odd result'", 1, "odd result"),
    ("raise RuntimeError('kaboom')", 1, "RuntimeError: kaboom"),
])
def test_exit_code_follows_sys_exit_semantics(project, body, code, stream_text):
    result = run_job(project, f"def main():\n    {body}\n")
    assert result.returncode == code, result.stderr
    assert stream_text in result.stderr


def test_argv_executable_and_sys_path(project, puff_bin):
    result = run_job(project, """
        import os, sys
        def main():
            print(sys.argv)
            print(sys.executable)
            print(sys.path[0])
            print(sys.prefix != sys.base_prefix)
    """, "a", "--flag", "b c")
    assert result.returncode == 0, result.stderr
    argv, executable, path0, in_venv = result.stdout.splitlines()
    assert argv == "['job:main', 'a', '--flag', 'b c']"
    venv = os.path.dirname(os.path.dirname(puff_bin))
    assert executable == os.path.join(venv, "bin", "python")
    assert os.path.realpath(path0) == os.path.realpath(project.path)
    assert in_venv == "True"


def test_subprocess_of_sys_executable_uses_the_venv(project):
    result = run_job(project, """
        import subprocess, sys
        def main():
            out = subprocess.run([sys.executable, "-c", "import greenlet, django; print('ok')"],
                                 capture_output=True, text=True)
            print(out.stdout.strip(), out.returncode)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "0"]


@pytest.mark.parametrize("target, code, message", [
    ("nosuchmodule:main", 1, "no module named 'nosuchmodule'"),
    ("job:nosuchfunction", 1, "module 'job' has no attribute 'nosuchfunction'"),
    ("job:CONSTANT", 1, "'job:CONSTANT' is not callable"),
    ("job", 2, "expected MODULE:FUNCTION"),
    (":main", 2, "expected MODULE:FUNCTION"),
])
def test_bad_targets_give_one_clear_line(project, target, code, message):
    project.write("job.py", "CONSTANT = 1\ndef main():\n    return 0\n")
    result = project.run("python", target)
    assert result.returncode == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_error_while_importing_the_module_shows_its_traceback(project):
    project.write("broken.py", "import nosuchdependency\ndef main():\n    pass\n")
    result = project.run("python", "broken:main")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "nosuchdependency" in result.stderr


def test_unjoined_failed_task_is_reported(project):
    result = run_job(project, """
        import puff
        def fails():
            raise LookupError("nobody joins me")
        def main():
            puff.spawn(fails)
            puff.sleep(0.05)
    """)
    assert result.returncode == 0
    assert "never joined" in result.stderr and "LookupError: nobody joins me" in result.stderr


def test_tasks_still_alive_when_main_returns_are_unwound(project):
    result = run_job(project, """
        import puff
        def forever(tag):
            try:
                puff.sleep(3600)
            finally:
                print("unwound", tag, flush=True)
        def main():
            puff.spawn(forever, "started")
            puff.sleep(0.05)
            puff.spawn(forever, "never-started")
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "unwound started" in result.stdout
    assert "never-started" not in result.stdout  # killed before it ran: no body, no finally


def test_sleep_rejects_bad_values(project):
    result = run_job(project, """
        import puff
        def main():
            for bad in (-1, float("nan"), "1"):
                try:
                    puff.sleep(bad)
                except (ValueError, TypeError):
                    continue
                raise AssertionError(f"sleep accepted {bad!r}")
            puff.sleep(0)
            print("ok")
    """)
    assert result.returncode == 0, result.stderr


def test_spawn_outside_a_callable_is_a_type_error(project):
    result = run_job(project, """
        import puff
        def main():
            try:
                puff.spawn(42)
            except TypeError as e:
                print("ok", e)
    """)
    assert result.returncode == 0 and result.stdout.startswith("ok")


def test_watchdog_warns_with_the_blocking_stack(project):
    result = run_job(project, """
        import time, puff
        def stalls_the_hub():
            time.sleep(0.6)
        def main():
            puff.spawn(stalls_the_hub).join()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the hub has been blocked") == 1, result.stderr
    assert "stalls_the_hub" in result.stderr and "time.sleep(0.6)" in result.stderr


def test_watchdog_can_be_disabled(project):
    result = run_job(project, """
        import time
        def main():
            time.sleep(0.5)
    """, env={"PUFF_WATCHDOG_MS": "0"})
    assert result.returncode == 0
    assert "blocked" not in result.stderr


def wait_for_line(process, expected, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if expected in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"never saw {expected!r}; stderr: {process.stderr.read()}")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_unwind_cleanly(project, sig, code):
    project.write("job.py", """
        import puff
        def worker():
            try:
                puff.sleep(3600)
            finally:
                print("worker cleaned up", flush=True)
        def main():
            w = puff.spawn(worker)
            puff.sleep(0.05)  # the worker is parked in its sleep before we say ready
            try:
                print("ready", flush=True)
                puff.sleep(3600)
            finally:
                print("main cleaned up", flush=True)
    """)
    process = project.start("python", "job:main")
    try:
        wait_for_line(process, "ready")
        process.send_signal(sig)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, err
    assert "main cleaned up" in out and "worker cleaned up" in out, (out, err)
    assert "core dumped" not in err and "Fatal Python error" not in err


def test_sigint_while_a_task_is_running_python(project):
    project.write("job.py", """
        import puff
        def spin():
            while True:
                puff.sleep(0)
        def main():
            puff.spawn(spin)
            print("ready", flush=True)
            puff.sleep(3600)
    """)
    process = project.start("python", "job:main")
    try:
        wait_for_line(process, "ready")
        time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "KeyboardInterrupt" in err


def test_python_home_that_is_not_a_venv_is_one_clear_error(project, tmp_path):
    project.write("job.py", "def main():\n    return 0\n")
    result = project.run("--python-home", str(tmp_path / "nowhere"), "python", "job:main")
    assert result.returncode == 1
    assert "is not a virtualenv (no pyvenv.cfg)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_python_home_selects_the_venv(project, puff_bin):
    venv = os.path.dirname(os.path.dirname(puff_bin))
    project.write("job.py", "import sys\ndef main():\n    print(sys.prefix)\n")
    result = project.run("--python-home", venv, "python", "job:main")
    assert result.returncode == 0, result.stderr
    assert os.path.realpath(result.stdout.strip()) == os.path.realpath(venv)


def test_greenlet_exit_and_exceptions_do_not_leak_between_greenlets(project):
    # sys.exc_info() is per greenlet: a waiting handler keeps its own exception.
    result = run_job(project, """
        import sys, puff
        def handler(tag):
            try:
                raise ValueError(tag)
            except ValueError:
                puff.sleep(0.02)
                return str(sys.exc_info()[1])
        def main():
            tasks = [puff.spawn(handler, f"t{i}") for i in range(50)]
            assert puff.join_all(tasks) == [f"t{i}" for i in range(50)]
            print("ok")
    """)
    assert result.returncode == 0, result.stderr


def test_virtual_env_is_used_when_the_binary_is_not_in_a_venv(project, puff_bin, tmp_path):
    venv = os.path.dirname(os.path.dirname(puff_bin))
    outside = tmp_path / "bin" / "puff"
    outside.parent.mkdir()
    outside.write_bytes(open(puff_bin, "rb").read())
    outside.chmod(0o755)
    project.write("job.py", "import sys\ndef main():\n    print(sys.prefix, sys.executable)\n")
    result = subprocess.run([str(outside), "python", "job:main"], cwd=project.path,
                            env=project.env({"VIRTUAL_ENV": venv}), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    prefix, executable = result.stdout.split()
    assert os.path.realpath(prefix) == os.path.realpath(venv)
    assert executable == os.path.join(venv, "bin", "python")


def test_huge_and_infinite_timeouts_do_not_overflow_the_clock(project):
    result = run_job(project, """
        import puff
        def main():
            sleeper = puff.spawn(puff.sleep, float("inf"))
            waiter = puff.spawn(lambda: sleeper.join(timeout=1e300))
            puff.sleep(0.05)
            assert not sleeper.finished and not waiter.finished
            try:
                sleeper.join(timeout=0.01)
            except TimeoutError:
                print("ok")
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
