"""`scripts/bench cache`: django_puff.cache.RedisCache against django-redis and Django's own
RedisCache (both on redis-py with the hiredis parser), side by side in one run.

Cases:
- plain loop, cache.get: one process, Django's cache API, one small pickled value;
- plain loop, client GET: the Redis clients themselves (django_puff.redis vs redis-py);
- 256 callers, get_many(10) + set: puff's hub with 256 greenlets on its pipelined pool of 4
  connections vs the peers under gevent (monkey-patched, as gunicorn's gevent worker runs
  them) with 256 greenlets on redis-py's pool.
Rounds alternate the backends; the table shows medians of operations per second (for the
callers case, one operation = one get_many + one set). The plain loops are also counted in CPU
instructions per operation (callgrind)."""
import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

import harness
import report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS = ["puff", "django-redis", "django"]
CASES = [
    ("plain loop, cache.get", "get", 20000),
    ("plain loop, client GET", "client-get", 20000),
    ("256 callers, get_many(10) + set", "many", 25600),
]


def command(peer, workload, url, n, puff_bin, peer_python):
    if workload == "client-get" and peer == "django":
        return None  # Django's RedisCache has no client of its own: redis-py is django-redis's
    if peer == "puff":
        if workload == "many":
            return [puff_bin, "python", "cache_workloads:main", workload, peer, url, str(n)]
        return [sys.executable, "cache_workloads.py", workload, peer, url, str(n)]
    return [peer_python, "cache_workloads.py", workload, peer, url, str(n)]


def facts(puff_bin, peer_python, url):
    def ask(python, code):
        return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()
    server = subprocess.run(["redis-cli", "-u", url, "INFO", "server"], capture_output=True,
                            text=True).stdout
    version = next((line.split(":", 1)[1].strip() for line in server.splitlines()
                    if line.startswith("redis_version:")), "?")
    return {
        "puff": subprocess.run([puff_bin, "--version"], capture_output=True,
                               text=True).stdout.strip(),
        "python": platform.python_version(),
        "redis-py": ask(peer_python, "import redis; print(redis.__version__)"),
        "hiredis": ask(peer_python, "import hiredis; print(hiredis.__version__)"),
        "django-redis": ask(peer_python, "import django_redis; print(django_redis.__version__)"),
        "redis-server": version,
        "cpus": os.cpu_count(),
    }


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench cache")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--peer-python", required=True, help="python of the peers' venv")
    parser.add_argument("--no-instructions", action="store_true")
    args = parser.parse_args()
    url = os.environ["TEST_REDIS_URL"]
    puff_bin = os.environ.get("PUFF_BIN", str(ROOT / ".venv" / "bin" / "puff"))
    info = facts(puff_bin, args.peer_python, url)
    print("bench cache:", ", ".join(f"{k} {v}" for k, v in info.items()))

    def command_for(peer, workload, n):
        return command(peer, workload, url, n, puff_bin, args.peer_python)
    rows, samples = harness.alternating_rounds(CASES, PEERS, command_for, args.rounds, "ops/s")
    if not args.no_instructions:
        harness.instruction_rows(CASES[:2], PEERS, command_for, rows, samples, "instr/op")
    report.print_table(rows, PEERS, [("puff/django-redis", "puff", "django-redis"),
                                     ("puff/django", "puff", "django")])
    print("  (256 callers: puff = greenlets on the hub, 4 pipelined connections; peers = gevent"
          " greenlets, a redis-py connection each; instr/op: a ratio below 1 is puff ahead)")
    report.write_files("cache", rows, samples, PEERS, info, args.out,
                       f"django_puff.cache vs django-redis and Django's RedisCache, "
                       f"{info['cpus']} cores")


if __name__ == "__main__":
    main()
