"""Output of the bench harness: a table on stdout, a CSV and a PNG under bench/results/.

rows: [{"case", "unit", <peer>: median ops/s, ...}]; samples: {case: {peer: [ops/s, ...]}}."""
import csv
import datetime
import json
from pathlib import Path


def print_table(rows, peers, ratios):
    """ratios: [(label, numerator peer, denominator peer)], printed as x-factors."""
    width = {p: max(13, len(p) + 2) for p in peers}
    header = f"{'case':<36}{'unit':<13}" + "".join(f"{p:>{width[p]}}" for p in peers)
    header += "".join(f"{label:>16}" for label, _n, _d in ratios)
    print("\n" + header)
    for row in rows:
        line = f"{row['case']:<36}{row['unit']:<13}"
        line += "".join(f"{row[p]:>{width[p]},.0f}" if row.get(p) else f"{'-':>{width[p]}}"
                        for p in peers)
        for _label, n, d in ratios:
            value = f"{row[n] / row[d]:.2f}x" if row.get(n) and row.get(d) else "-"
            line += f"{value:>16}"
        print(line)


def write_files(name, rows, samples, peers, facts, out_dir, title):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    csv_path = out_dir / f"{name}-{stamp}.csv"
    with csv_path.open("w", newline="") as f:
        fields = ["case", "unit", *peers, *(f"samples_{p}" for p in peers)]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**{k: row.get(k) for k in ["case", "unit", *peers]},
                             **{f"samples_{p}": samples[row["case"]].get(p) for p in peers}})
        f.write("# " + json.dumps(facts) + "\n")
    print(f"\ncsv: {csv_path}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: skipped (matplotlib not installed)")
        return
    rows = [row for row in rows if row["unit"].endswith("/s")]  # one scale: throughput
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(peers)
    for i, peer in enumerate(peers):
        xs = [x + (i - (len(peers) - 1) / 2) * width for x in range(len(rows))]
        ax.bar(xs, [row.get(peer) or 0 for row in rows], width, label=peer)
    ax.set_xticks(list(range(len(rows))), [f"{r['case']}\n({r['unit']})" for r in rows])
    ax.set_ylabel("operations per second (median)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    png_path = out_dir / f"{name}-{stamp}.png"
    fig.savefig(png_path, dpi=100)
    print(f"chart: {png_path}")
