"""`scripts/bench runtime`: the hub's costs against gevent, side by side in one run.

Cases: greenlet spawn+join, hub round trips (sleep(0) with 1,000 greenlets), and 1 ms native
timers with 1,000 greenlets. Rounds alternate puff, gevent, puff, gevent...; the table shows
medians and the ratio puff/gevent (higher is better for puff). Writes a CSV and a PNG chart."""
import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = [
    ("spawn+join", "puff_spawn_join", "gevent_spawn_join", "tasks/s"),
    ("round trips (sleep 0)", "puff_round_trips", "gevent_round_trips", "switches/s"),
    ("1 ms timers", "puff_timers", "gevent_timers", "wakeups/s"),
]


def run_case(command):
    out = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PUFF_WATCHDOG_MS": "0"})
    if out.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{out.stderr}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["ops"] / data["seconds"]


def versions(puff_bin, python):
    def ask(code):
        return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()
    return {
        "puff": subprocess.run([puff_bin, "--version"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(),
        "gevent": ask("import gevent; print(gevent.__version__)"),
        "greenlet": ask("import greenlet; print(greenlet.__version__)"),
        "cpus": os.cpu_count(),
        "cpu model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                           if l.startswith("model name")), "?"),
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
            samples[case]["puff"].append(run_case([puff_bin, "python", f"runtime_workloads:{puff_fn}"]))
            samples[case]["gevent"].append(run_case(
                [python, "-c", f"import runtime_workloads as w; w.{gevent_fn}()"]))
        print(f"  round {round_number + 1}/{args.rounds} done", flush=True)

    rows = []
    print(f"\n{'case':<24}{'unit':<12}{'puff':>14}{'gevent':>14}{'puff/gevent':>13}")
    for case, _p, _g, unit in CASES:
        p = statistics.median(samples[case]["puff"])
        g = statistics.median(samples[case]["gevent"])
        rows.append({"case": case, "unit": unit, "puff": round(p), "gevent": round(g),
                     "ratio": round(p / g, 2)})
        print(f"{case:<24}{unit:<12}{p:>14,.0f}{g:>14,.0f}{p / g:>12.2f}x")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    csv_path = out_dir / f"runtime-{stamp}.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) + ["samples_puff", "samples_gevent"])
        writer.writeheader()
        for row, (case, *_rest) in zip(rows, CASES):
            writer.writerow({**row, "samples_puff": samples[case]["puff"],
                             "samples_gevent": samples[case]["gevent"]})
        f.write("# " + json.dumps(facts) + "\n")
    print(f"\ncsv: {csv_path}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: skipped (matplotlib not installed)")
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["puff"] for r in rows], 0.4, label="puff")
    ax.bar([x + 0.2 for x in xs], [r["gevent"] for r in rows], 0.4, label="gevent")
    ax.set_xticks(list(xs), [f"{r['case']}\n({r['unit']})" for r in rows])
    ax.set_ylabel("operations per second (median)")
    ax.set_title(f"puff hub vs gevent, {facts['cpus']} cores, Python {facts['python']}")
    ax.legend()
    fig.tight_layout()
    png_path = out_dir / f"runtime-{stamp}.png"
    fig.savefig(png_path, dpi=100)
    print(f"chart: {png_path}")


if __name__ == "__main__":
    main()
