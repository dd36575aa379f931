#!/usr/bin/python3
"""Summarises a benchres.csv: medians per workload and allocator as ratios to a baseline.

Input is mimalloc-bench's line format, one run per line, no header:
    benchmark allocator elapsed(s) rss(KiB) user(s) sys(s)
Prints two tables, time and peak RSS. Each cell is the allocator's median
over its runs divided by the baseline allocator's median for the same
workload (lower is better; the baseline column reads 1.00), with the
baseline's own median in the first column. The last row is the geometric
mean of the ratios over the workloads the allocator completed. Cells of runs
listed in the failures file (crash, timeout, wrong checksum) read FAIL.

plot.py imports load_runs() and summarise() from here, so that both read the
same numbers.

Usage: report.py benchres.csv [--failures failures.txt] [--baseline jemalloc]
"""
import argparse
import math
import statistics
import sys
from collections import OrderedDict

METRICS = ("time", "rss")
ALLOC_ORDER = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "strata"]


def load_runs(path):
    """Returns (workloads, allocators, runs): the first two in first-seen order
    (allocators in ALLOC_ORDER when known), runs[(workload, alloc)] a list of
    {"time": s, "rss": KiB} dicts."""
    runs = OrderedDict()
    workloads, allocs = [], []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 6:
                sys.exit(f"{path}:{lineno}: expected 6 fields, got {len(fields)}")
            bench, alloc = fields[0], fields[1]
            elapsed, rss = float(fields[2]), float(fields[3])
            if bench not in workloads:
                workloads.append(bench)
            if alloc not in allocs:
                allocs.append(alloc)
            runs.setdefault((bench, alloc), []).append({"time": elapsed, "rss": rss})
    known = [a for a in ALLOC_ORDER if a in allocs]
    allocs = known + [a for a in allocs if a not in known]
    return workloads, allocs, runs


def load_failures(path):
    """Returns {(workload, alloc): reason} from a failures file (may be absent)."""
    failed = {}
    if not path:
        return failed
    try:
        with open(path) as f:
            for line in f:
                parts = line.split(None, 2)
                if len(parts) >= 2:
                    failed[(parts[0], parts[1])] = parts[2].strip() if len(parts) > 2 else "failed"
    except FileNotFoundError:
        pass
    return failed


def summarise(workloads, allocs, runs, baseline, metric):
    """Returns {(workload, alloc): (median, lo, hi)} as ratios to the baseline
    median (lo/hi from the min and max run), and {workload: baseline median}.
    Workloads without a baseline result are left out."""
    ratios, base_abs = {}, {}
    for w in workloads:
        base_runs = runs.get((w, baseline))
        if not base_runs:
            continue
        base = statistics.median(r[metric] for r in base_runs)
        if base <= 0:  # a 0.00 s run: ratios are meaningless
            continue
        base_abs[w] = base
        for a in allocs:
            vals = [r[metric] for r in runs.get((w, a), [])]
            if vals:
                ratios[(w, a)] = (statistics.median(vals) / base, min(vals) / base, max(vals) / base)
    return ratios, base_abs


def geomean(values):
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def print_table(title, unit, workloads, allocs, ratios, base_abs, failed, baseline):
    width = max([len(w) for w in workloads] + [8])
    head = f"{title:<{width}}  {baseline + ' ' + unit:>14}" + "".join(f"  {a:>9}" for a in allocs)
    print(head)
    print("-" * len(head))
    for w in workloads:
        if w not in base_abs:
            continue
        cells = []
        for a in allocs:
            if (w, a) in ratios:
                cells.append(f"{ratios[(w, a)][0]:9.2f}")
            else:
                cells.append(f"{'FAIL' if (w, a) in failed else '-':>9}")
        shown = base_abs[w] / 1024 if unit == "MiB" else base_abs[w]
        print(f"{w:<{width}}  {shown:14.2f}" + "".join(f"  {c}" for c in cells))
    means = []
    for a in allocs:
        vals = [ratios[(w, a)][0] for w in base_abs if (w, a) in ratios]
        missing = sum(1 for w in base_abs if (w, a) not in ratios)
        cell = f"{geomean(vals):.2f}" + (f"({missing}!)" if missing else "")
        means.append(f"{cell:>9}")
    print(f"{'geomean':<{width}}  {'':14}" + "".join(f"  {c}" for c in means))
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--failures")
    ap.add_argument("--baseline", default="jemalloc")
    args = ap.parse_args()

    workloads, allocs, runs = load_runs(args.csv)
    if not runs:
        sys.exit(f"{args.csv}: no runs")
    baseline = args.baseline if args.baseline in allocs else allocs[0]
    if baseline != args.baseline:
        print(f"(no {args.baseline} runs: ratios are to {baseline})\n")
    failed = load_failures(args.failures)
    counts = sorted({len(v) for v in runs.values()})
    print(f"medians of {'/'.join(map(str, counts))} runs, ratio to {baseline} (lower is better)\n")
    for metric, title, unit in (("time", "time", "s"), ("rss", "peak RSS", "MiB")):
        ratios, base_abs = summarise(workloads, allocs, runs, baseline, metric)
        print_table(title, unit, workloads, allocs, ratios, base_abs, failed, baseline)
    if failed:
        print("failed runs (excluded above; n! in a geomean = workloads missing):")
        for (w, a), why in failed.items():
            print(f"  {w} {a}: {why}")


if __name__ == "__main__":
    main()
