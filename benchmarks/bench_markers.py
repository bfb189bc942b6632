#!/usr/bin/env python
"""Parallel marking (issue 20, "Parallel marking"): the mark phase with 1 and 2 markers.

    python benchmarks/bench_markers.py             # ~1M live objects (about two minutes)
    python benchmarks/bench_markers.py --smallest  # a small tree (the smoke test)
    python benchmarks/bench_markers.py --check     # exit 1 when the 1.6x target is missed
    python benchmarks/bench_markers.py --prefetch 8   # only the default look-ahead
    python benchmarks/bench_markers.py --series 60    # 60 pairs 0.2 s apart: the machine over time

marksweep: one heap (markers=2) holds a complete binary tree of 2^(depth+1) - 1 nodes
(binary-trees' long-lived tree, depth 19: 1,048,575 live objects) in one root; each
repetition forces two full collections of that same heap, one marked by the serial mark
loop (1 marker) and one by 2 markers (parmark.collect_with: interleaved, so that a change
in the machine's load falls on both, and on one heap, so that where its pages landed does
too: two heaps built alike differed by up to a quarter in mark time), and the medians of
the mark phase's wall time
(CycleRecord.mark_ns) and of the markers' summed thread CPU time (mark_cpu_ns,
CLOCK_THREAD_CPUTIME_ID) are printed, with the speedup of 2 markers over 1 (target >= 1.6x
on an idle 2-core machine: PASS or MISS).  CPU time above wall time in the mark phase
proves the markers ran at the same time; the per-marker objects show the work was shared
although only one marker found the root (work stealing).  Both marker counts run with the
same `prefetch` (marksweep's option: the mark loop's look-ahead), once per --prefetch value:
8 (the default every plan starts with) and 32.  Two markers share one memory system, whose
latency under two loading cores the default 8-object look-ahead does not cover; 32 does.
--check passes when the target is met at some --prefetch value (the same for both counts).

tricolor: concurrent runs of binary-trees with markers=1 and 2: the background workers'
summed CPU over the concurrent mark phases' wall time, and the share of objects the second
worker marked.  Figures depend on the machine's load, which is printed with them.
"""
import argparse
import os
import statistics
import sys
import time

import gcbench
from gcbench_core import parmark

TARGET = 1.6


def tree_heap(depth):
    holder = {}
    gcbench.run("marksweep", "binary-trees", heap="1G", gogc="off", opts={"markers": 2},
                params=dict(long_lived_depth=depth, array_len=0, min_depth=0, max_depth=0),
                on_heap=lambda h: holder.setdefault("heap", h))
    return holder["heap"]


def marksweep_figures(heap, repeats, prefetch):
    wall = {1: [], 2: []}
    cpu = {1: [], 2: []}
    shares = []
    live = 0
    for _ in range(repeats):
        for m in (1, 2):
            parmark.collect_with(heap, m, prefetch)
            cycle = heap.cycles()[-1]
            wall[m].append(int(cycle["mark_ns"]))
            cpu[m].append(int(cycle["mark_cpu_ns"]))
            live = int(cycle["live_objects"])
            if m == 2:
                shares.append([w["marked_objects"] for w in parmark.last_mark(heap)])
    return live, wall, cpu, shares


def print_series(heap, pairs, prefetch):
    walls = {1: [], 2: []}
    print(f"marksweep prefetch={prefetch}: {pairs} pairs of collections 0.2 s apart, mark wall ms "
          f"(1 marker / 2 markers):")
    for i in range(pairs):
        for m in (1, 2):
            parmark.collect_with(heap, m, prefetch)
            walls[m].append(heap.cycles()[-1]["mark_ns"] / 1e6)
        print(f"  {i:3d}  {walls[1][-1]:6.2f} / {walls[2][-1]:6.2f}")
        time.sleep(0.2)
    for m in (1, 2):
        print(f"  markers={m}: min {min(walls[m]):.2f}  median {statistics.median(walls[m]):.2f}  "
              f"max {max(walls[m]):.2f} ms")


def tricolor_figures(depth):
    out = {}
    for m in (1, 2):
        r = gcbench.run("tricolor", "binary-trees", opts={"markers": m},
                        params=dict(long_lived_depth=depth))
        cycles = [c for c in r["cycle_log"] if c["markers"] > 0]
        out[m] = (len(cycles), sum(c["mark_ns"] for c in cycles), sum(c["mark_cpu_ns"] for c in cycles),
                  sum(c["mark_helper_objects"] for c in cycles), sum(c["live_objects"] for c in cycles),
                  max(r["pauses_ns"]) if r["pauses_ns"] else 0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smallest", "--quick", dest="quick", action="store_true",
                    help="a small tree and few repetitions, for the smoke test")
    ap.add_argument("--depth", type=int, default=None,
                    help="long-lived tree depth (default 19: 1,048,575 objects; --smallest: 13)")
    ap.add_argument("--repeats", type=int, default=None, help="collections per marker count (default 9)")
    ap.add_argument("--prefetch", type=int, nargs="+", default=[8, 32], metavar="N",
                    help="marksweep's prefetch option (the mark loop's look-ahead), the same for "
                         "both marker counts; one comparison per value (default: 8, the default "
                         "depth, and 32)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when the speedup target is missed at every --prefetch value")
    ap.add_argument("--series", type=int, default=0, metavar="N",
                    help="instead: N pairs of collections (1 marker, then 2) 0.2 s apart at the "
                         "first --prefetch value, each pair's mark wall times printed: how the "
                         "machine's speed for one and for two markers changes over time")
    args = ap.parse_args(argv)
    depth = args.depth if args.depth is not None else (13 if args.quick else 19)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 9)
    if not 4 <= depth <= 24 or repeats < 1 or args.series < 0:
        print("bench_markers: --depth must be in [4, 24], --repeats at least 1 and --series at least 0",
              file=sys.stderr)
        return 2
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    if any(n not in (1, 2, 4, 8, 16, 32, 64) for n in args.prefetch):
        print("bench_markers: --prefetch values must be powers of two up to 64", file=sys.stderr)
        return 2
    print(f"machine: {cores} cores, load average {load:.2f} at the start "
          f"({'loaded: the figures understate the speedup' if load > 0.5 else 'idle'})")
    met_any = False
    heap = tree_heap(depth)
    if args.series > 0:
        print_series(heap, args.series, args.prefetch[0])
        return 0
    for prefetch in args.prefetch:
        live, wall, cpu, shares = marksweep_figures(heap, repeats, prefetch)
        w1, w2 = statistics.median(wall[1]), statistics.median(wall[2])
        c1, c2 = statistics.median(cpu[1]), statistics.median(cpu[2])
        speedup = w1 / w2 if w2 else float("nan")
        met = speedup >= TARGET
        met_any = met_any or met
        share = shares[len(shares) // 2]
        print(f"marksweep prefetch={prefetch}, full collection of {live} live objects (tree depth {depth}), "
              f"median of {repeats}:")
        overlap = max(c / w for c, w in zip(cpu[2], wall[2]) if w)
        print(f"  markers=1: mark wall {w1 / 1e6:.2f} ms (best {min(wall[1]) / 1e6:.2f}), "
              f"marker CPU {c1 / 1e6:.2f} ms")
        print(f"  markers=2: mark wall {w2 / 1e6:.2f} ms (best {min(wall[2]) / 1e6:.2f}), summed marker CPU "
              f"{c2 / 1e6:.2f} ms (CPU/wall {c2 / w2:.2f}, highest of the {repeats} {overlap:.2f}: "
              f"{'> 1, the markers overlapped' if overlap > 1 else 'no overlap seen'}); "
              f"objects marked per marker {share}")
        print(f"  speedup 2 markers over 1: {speedup:.2f}x of the medians, {min(wall[1]) / min(wall[2]):.2f}x "
              f"of the best (target >= {TARGET}x on an idle 2-core machine, medians: {'PASS' if met else 'MISS'})")
    tc = tricolor_figures(depth - 2 if args.quick else depth - 1)
    for m, (n, mark_ns, mark_cpu, helper, objects, max_pause) in tc.items():
        print(f"tricolor concurrent, binary-trees long_lived_depth={depth - 2 if args.quick else depth - 1}, "
              f"markers={m}: {n} cycles, worker CPU {mark_cpu / 1e6:.1f} ms over {mark_ns / 1e6:.1f} ms "
              f"of concurrent mark (CPU/wall {mark_cpu / mark_ns if mark_ns else 0:.2f}), "
              f"objects marked by workers after the first {helper} of {objects}, "
              f"longest pause {max_pause / 1e6:.3f} ms")
    return 1 if args.check and not met_any else 0


if __name__ == "__main__":
    sys.exit(main())
