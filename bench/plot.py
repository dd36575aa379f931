#!/usr/bin/python3
"""Draws time.png and rss.png from a benchres.csv, in mimalloc's chart style.

Grouped bars: one group per workload (plus a geometric-mean group at the
right), one bar per allocator. The height is the allocator's median divided
by the baseline allocator's median for that workload, so the baseline
(jemalloc) is 1.00x, marked by a horizontal line, and lower is better. Error
bars span the fastest and slowest run. The y axis stops at --clip (2.0x):
a taller bar is cut there, loses its upper error bar and has its value
written above it in bold. Every bar carries its value, rotated, above it; an
allocator whose runs of a workload all failed (--failures) gets a red FAIL.

Needs matplotlib: run with Debian's /usr/bin/python3.
Usage: plot.py benchres.csv [--out DIR] [--failures FILE] [--baseline jemalloc] [--clip 2.0]
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from report import geomean, load_failures, load_runs, summarise  # noqa: E402

COLOURS = {"glibc": "#4c72b0", "jemalloc": "#8c8c8c", "mimalloc": "#55a868",
           "tcmalloc": "#dd8452", "strata": "#c44e52"}
EXTRA_COLOURS = ["#8172b3", "#937860", "#da8bc3", "#ccb974"]
TITLES = {"time": "Relative time (lower is better)", "rss": "Relative peak RSS (lower is better)"}


def draw(metric, workloads, allocs, runs, failed, baseline, clip, path):
    ratios, base_abs = summarise(workloads, allocs, runs, baseline, metric)
    groups = [w for w in workloads if w in base_abs]
    means = {a: geomean([ratios[(w, a)][0] for w in groups if (w, a) in ratios]) for a in allocs}
    labels = groups + ["geomean"]

    n = len(allocs)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(8.0, 0.2 * n * len(labels) + 1.5), 5.2))
    extra = iter(EXTRA_COLOURS)
    for k, a in enumerate(allocs):
        colour = COLOURS.get(a) or next(extra, "#333333")
        xs, heights, lows, highs, shown = [], [], [], [], []
        for g, w in enumerate(labels):
            if w == "geomean":
                med = lo = hi = means[a]
            elif (w, a) in ratios:
                med, lo, hi = ratios[(w, a)]
            else:
                if (w, a) in failed:
                    ax.text(g - 0.4 + width * (k + 0.5), 0.04, "FAIL", rotation=90, ha="center",
                            va="bottom", fontsize=7, color="#c00000", fontweight="bold")
                continue
            if med != med:  # NaN: no results at all
                continue
            xs.append(g - 0.4 + width * (k + 0.5))
            heights.append(min(med, clip))
            lows.append(max(0.0, min(med, clip) - min(lo, clip)))
            highs.append(0.0 if med > clip else max(0.0, min(hi, clip) - med))
            shown.append(med)
        ax.bar(xs, heights, width, label=a, color=colour, edgecolor="white", linewidth=0.4,
               yerr=[lows, highs], error_kw={"elinewidth": 0.7, "capsize": 1.5, "ecolor": "#222222"})
        for x, h, v, up in zip(xs, heights, shown, highs):
            clipped = v > clip
            if clipped:  # a white double slash near the top marks the cut
                for dy in (0.10, 0.16):
                    ax.plot([x - width / 2, x + width / 2], [clip - dy - 0.03, clip - dy + 0.03],
                            color="white", linewidth=1.6, zorder=3)
            text = f"{v:.1f}x" if clipped and v >= 10 else f"{v:.2f}x"
            ax.text(x, h + (0.03 if clipped else up + 0.04), text, rotation=90, ha="center", va="bottom",
                    fontsize=6.5, fontweight="bold" if clipped else "normal", clip_on=False, zorder=4,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.4, "alpha": 0.75})

    ax.axhline(1.0, color="black", linewidth=0.9, linestyle="--", alpha=0.7, zorder=3)
    ax.set_ylim(0, clip + 0.45)  # headroom for the labels of clipped bars
    ax.set_yticks([t / 4 for t in range(0, int(clip * 4) + 1)])
    ax.set_ylabel(TITLES[metric])
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.axvline(len(labels) - 1.5, color="#bbbbbb", linewidth=0.6)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(ncol=n, loc="upper left", bbox_to_anchor=(0.0, 1.13), frameon=False, fontsize=8)
    counts = sorted({len(v) for v in runs.values()})
    ax.set_title(f"{baseline} = 1.00x; median of {'/'.join(map(str, counts))} runs, bars min-max; "
                 f"axis clipped at {clip:g}x", fontsize=8, loc="right", pad=24, color="#555555")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--out", default=".")
    ap.add_argument("--baseline", default="jemalloc")
    ap.add_argument("--clip", type=float, default=2.0)
    ap.add_argument("--failures")
    args = ap.parse_args()
    workloads, allocs, runs = load_runs(args.csv)
    failed = load_failures(args.failures)
    baseline = args.baseline if args.baseline in allocs else allocs[0]
    for metric in ("time", "rss"):
        draw(metric, workloads, allocs, runs, failed, baseline, args.clip, os.path.join(args.out, f"{metric}.png"))


if __name__ == "__main__":
    main()
