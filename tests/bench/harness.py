"""What the process-per-sample benches (pg, cache) share: one sample, callgrind instruction
counts, alternating rounds with medians, and the World table."""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Operations of the two callgrind runs whose difference gives instructions per operation (the
# start-up cost cancels out).
INSTRUCTION_RUNS = (200, 1200)


def sample(cmd):
    """Runs one workload process; its last stdout line is {"ops": N, "seconds": s}."""
    out = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PUFF_WATCHDOG_MS": "0"})
    if out.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["ops"] / data["seconds"]


def instructions_per_op(cmd_for):
    """cmd_for(n) -> the workload's command for n operations."""
    if not shutil.which("valgrind"):
        sys.exit("bench: valgrind is missing (apt-get install valgrind), or pass "
                 "--no-instructions")
    counts = []
    for n in INSTRUCTION_RUNS:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd_for(n)]
        out = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=600)
        found = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
        if out.returncode != 0 or not found:
            sys.exit(f"bench: {' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / (INSTRUCTION_RUNS[1] - INSTRUCTION_RUNS[0])


def alternating_rounds(cases, peers, command, rounds, unit):
    """cases: [(case, workload, n)]; command(peer, workload, n) -> argv or None (peer sits the
    case out). Returns (rows of medians, samples)."""
    samples = {case: {p: [] for p in peers} for case, _w, _n in cases}
    for round_number in range(rounds):
        for case, workload, n in cases:
            for peer in peers:
                cmd = command(peer, workload, n)
                if cmd:
                    samples[case][peer].append(sample(cmd))
        print(f"  round {round_number + 1}/{rounds} done", flush=True)
    rows = [{"case": case, "unit": unit,
             **{p: round(statistics.median(samples[case][p])) for p in peers
                if samples[case][p]}}
            for case, _w, _n in cases]
    return rows, samples


def instruction_rows(cases, peers, command, rows, samples, unit):
    """Appends a row of instructions per operation for each case (same `command` as above)."""
    for case, workload, _n in cases:
        row = {"case": case + " (instructions)", "unit": unit}
        for peer in peers:
            if command(peer, workload, 1):
                row[peer] = round(instructions_per_op(
                    lambda n, peer=peer, workload=workload: command(peer, workload, n)))
        rows.append(row)
        samples[row["case"]] = {p: [row[p]] for p in peers if p in row}


def create_world(cursor, rows=10_000):
    """TechEmpower's World table (id, randomnumber) on a psycopg2-style cursor."""
    cursor.execute("drop table if exists world")
    cursor.execute("create table world (id int primary key, randomnumber int not null)")
    cursor.execute("insert into world select g, (random() * 10000)::int + 1 "
                   "from generate_series(1, %s) g", (rows,))
