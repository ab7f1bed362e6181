"""`scripts/bench pg`: puff's psycopg2 driver against psycopg2 and psycopg (3), side by side.

Cases (a 10,000-row World table, autocommit, client-side parameters for every driver):
- plain loop, 1 row / 20 rows: one connection, one query after another (plain python);
- 100 callers, 1 row / 20 rows: 100 greenlets on puff's hub, each with its own connection,
  vs psycopg2 and psycopg with 100 threads (their way to overlap waits);
- 100 callers, 1 row, pool of 8 (puff only): the same greenlets borrowing 8 pooled server
  connections per statement, as the Django engine does under puff.
Rounds alternate the drivers; the table shows medians of queries per second. The plain loops
are also counted in CPU instructions per query (valgrind's callgrind, all user-space code of the
client process: the figure that stays put on a shared, noisy machine)."""
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
PEERS = ["puff", "psycopg2", "psycopg"]
# (case, workload name, queries per sample, unit)
CASES = [
    # Samples of 1-2 s: shorter ones swing by +-20% on a shared 2-core machine.
    ("plain loop, 1 row", "plain-1", 15000),
    ("plain loop, 20 rows", "plain-20", 10000),
    ("100 callers, 1 row", "concurrent-1", 30000),
    ("100 callers, 20 rows", "concurrent-20", 15000),
    # puff only: the same 100 callers on 8 pooled server connections (the Django engine's way).
    ("100 callers, 1 row, pool of 8", "pooled-1", 30000),
]


def command(peer, workload, url, n, puff_bin, peer_python):
    if workload.startswith("pooled"):
        return [puff_bin, "python", "pg_workloads:main", "hubpool" + workload[6:], "psycopg2",
                url, str(n)] if peer == "puff" else None
    if peer == "puff":
        if workload.startswith("concurrent"):
            return [puff_bin, "python", "pg_workloads:main", "hub" + workload[10:], "psycopg2",
                    url, str(n)]
        return [sys.executable, "pg_workloads.py", workload, "psycopg2", url, str(n)]
    kind = "threads" + workload[10:] if workload.startswith("concurrent") else workload
    return [peer_python, "pg_workloads.py", kind, peer, url, str(n)]


def create_world(url):
    import psycopg2  # the project's venv: puff's driver
    conn = psycopg2.connect(url)
    harness.create_world(conn.cursor())
    conn.commit()
    conn.close()


def facts(puff_bin, peer_python, url):
    def ask(python, code):
        return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()
    import psycopg2
    conn = psycopg2.connect(url)
    server = conn.server_version
    conn.close()
    return {
        "puff": subprocess.run([puff_bin, "--version"], capture_output=True,
                               text=True).stdout.strip(),
        "python": platform.python_version(),
        "psycopg2": ask(peer_python, "import psycopg2; print(psycopg2.__version__)"),
        "psycopg": ask(peer_python,
                       "import psycopg; print(psycopg.__version__, psycopg.pq.__impl__)"),
        "postgresql": server,
        "cpus": os.cpu_count(),
        "cpu model": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name")), "?"),
    }


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench pg")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--peer-python", required=True, help="python of the peers' venv")
    parser.add_argument("--no-instructions", action="store_true",
                        help="skip the callgrind instruction counts of the plain loops")
    args = parser.parse_args()
    url = os.environ["TEST_POSTGRES_URL"]
    puff_bin = os.environ.get("PUFF_BIN", str(ROOT / ".venv" / "bin" / "puff"))
    create_world(url)
    info = facts(puff_bin, args.peer_python, url)
    print("bench pg:", ", ".join(f"{k} {v}" for k, v in info.items()))

    def command_for(peer, workload, n):
        return command(peer, workload, url, n, puff_bin, args.peer_python)
    rows, samples = harness.alternating_rounds(CASES, PEERS, command_for, args.rounds,
                                               "queries/s")
    if not args.no_instructions:
        harness.instruction_rows([c for c in CASES if c[1].startswith("plain")], PEERS,
                                 command_for, rows, samples, "instr/query")
    report.print_table(rows, PEERS, [("puff/psycopg2", "puff", "psycopg2"),
                                     ("puff/psycopg", "puff", "psycopg")])
    print("  (100 callers: puff = 100 greenlets on the hub; psycopg2/psycopg = 100 threads;"
          " instr/query: fewer is better, so a ratio below 1 is puff ahead)")
    report.write_files("pg", rows, samples, PEERS, info, args.out,
                       f"puff's driver vs psycopg2 and psycopg, {info['cpus']} cores")


if __name__ == "__main__":
    main()
