"""How `scripts/bench http` starts each server on the benchmark app (examples/bench), each at
its best documented settings for a Django app with database IO, with the same number of worker
processes. Returns (argv, extra environment)."""
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP = "benchsite.wsgi:application"
THREADS = 16  # threads per worker for the thread-based peers (gthread, granian, uWSGI)

# Peers serve Django's own engine (psycopg2) and django-redis, with persistent connections.
PEER_ENV = {"BENCH_DB_ENGINE": "django", "BENCH_CACHE": "django-redis",
            "BENCH_CONN_MAX_AGE": "600"}
PUFF_ENV = {"BENCH_DB_ENGINE": "puff", "BENCH_CACHE": "puff", "PUFF_WATCHDOG_MS": "0"}


def puff(bin_dir, puff_bin, port, workers):
    argv = [puff_bin, "runserver", "--bind", f"127.0.0.1:{port}", "--wsgi", APP,
            "--access-log", "off"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return argv, PUFF_ENV


def gunicorn(kind):
    def make(bin_dir, puff_bin, port, workers):
        argv = [f"{bin_dir}/gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                "--worker-class", kind, "--log-level", "warning", "--keep-alive", "75"]
        if kind == "gthread":
            argv += ["--threads", str(THREADS)]
        if kind == "gevent":
            argv += ["--worker-connections", "2000", "--config",
                     str(HERE / "gunicorn_gevent_conf.py")]
        return argv + [APP], PEER_ENV
    return make


def granian(bin_dir, puff_bin, port, workers):
    return [f"{bin_dir}/granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port",
            str(port), "--workers", str(workers), "--blocking-threads", str(THREADS),
            "--no-ws", "--log-level", "warning", APP], PEER_ENV


def uwsgi(bin_dir, puff_bin, port, workers):
    # --http (uWSGI's router process in front of the workers): its --http-socket mode closes
    # every connection after one response, which wrk counts as errors.
    return [f"{bin_dir}/uwsgi", "--http", f"127.0.0.1:{port}", "--http-keepalive",
            "--http-auto-chunked",
            "--module", APP, "--master", "--processes", str(workers), "--threads",
            str(THREADS), "--disable-logging", "--die-on-term", "--lazy-apps",
            "--listen", "1024", "--need-app"], PEER_ENV


SERVERS = {
    "puff": puff,
    "gunicorn-sync": gunicorn("sync"),
    "gunicorn-gthread": gunicorn("gthread"),
    "gunicorn-gevent": gunicorn("gevent"),
    "granian": granian,
    "uwsgi": uwsgi,
}


def environment(extra, bench_env):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env.update(bench_env)
    env.update(extra)
    env["PYTHONPATH"] = str(HERE.parents[1] / "examples" / "bench")
    return env
