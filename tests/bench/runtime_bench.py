"""`scripts/bench runtime`: the hub's costs against gevent, side by side in one run.

Cases: greenlet spawn+join, hub round trips (sleep(0) with 1,000 greenlets), and 1 ms native
timers with 1,000 greenlets. Rounds alternate puff, gevent, puff, gevent...; the table shows
medians and the ratio puff/gevent (higher is better for puff). Writes a CSV and a PNG chart."""
import argparse
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import harness
import report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = [
    ("spawn+join", "puff_spawn_join", "gevent_spawn_join", "tasks/s"),
    ("round trips (sleep 0)", "puff_round_trips", "gevent_round_trips", "switches/s"),
    ("1 ms timers", "puff_timers", "gevent_timers", "wakeups/s"),
]


def versions(puff_bin, python):
    def ask(code):
        return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()
    return {
        "puff": subprocess.run([puff_bin, "--version"], capture_output=True,
                               text=True).stdout.strip(),
        "python": platform.python_version(),
        "gevent": ask("import gevent; print(gevent.__version__)"),
        "greenlet": ask("import greenlet; print(greenlet.__version__)"),
        "cpus": os.cpu_count(),
        "cpu model": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name")), "?"),
    }


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench runtime")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    puff_bin = os.environ.get("PUFF_BIN", str(ROOT / ".venv" / "bin" / "puff"))
    python = sys.executable
    facts = versions(puff_bin, python)
    print("bench runtime:", ", ".join(f"{k} {v}" for k, v in facts.items()))

    samples = {case: {"puff": [], "gevent": []} for case, *_ in CASES}
    for round_number in range(args.rounds):
        for case, puff_fn, gevent_fn, _unit in CASES:
            samples[case]["puff"].append(
                harness.sample([puff_bin, "python", f"runtime_workloads:{puff_fn}"]))
            samples[case]["gevent"].append(harness.sample(
                [python, "-c", f"import runtime_workloads as w; w.{gevent_fn}()"]))
        print(f"  round {round_number + 1}/{args.rounds} done", flush=True)

    rows = [{"case": case, "unit": unit,
             **{peer: round(statistics.median(samples[case][peer])) for peer in ("puff", "gevent")}}
            for case, _p, _g, unit in CASES]
    report.print_table(rows, ["puff", "gevent"], [("puff/gevent", "puff", "gevent")])
    report.write_files("runtime", rows, samples, ["puff", "gevent"], facts, args.out,
                       f"puff hub vs gevent, {facts['cpus']} cores, Python {facts['python']}")


if __name__ == "__main__":
    main()
