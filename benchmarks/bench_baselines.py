#!/usr/bin/env python
"""gcbench's own speed against real baselines run in the same process (issue
"Benchmarks and real baselines"), printed as ratios so that machine noise cancels.

    python benchmarks/bench_baselines.py            # full size (about a minute)
    python benchmarks/bench_baselines.py --smallest # smoke test: tiny sizes, no checks

1. GCBench shape (binary-trees defaults): marksweep / boehm total wall time at the same
   heap size (target <= 1.0), and their longest pauses (marksweep's shorter).
2. Marking a shuffled random graph of one million objects (a complete binary tree whose
   nodes sit at random addresses): ns per object (target <= 30; the mark loop prefetches
   through a small FIFO).
3. The allocation fast path on reused, cache-resident memory (swept spans, no collection
   inside the timed loop) vs a C free list popping the same number of nodes (target:
   within 2x) and vs malloc on the same 32-byte objects (target: ahead).
Each figure is the best of --repeat runs.  Exits 1 if a target is missed (not with
--smallest or --no-check).
"""
import argparse
import sys

import gcbench
from gcbench import registry
from gcbench_core import microbench as mb
from gcbench_core.collectors import marksweep
from gcbench_core.heap import ManagedHeap


def verdict(ok):
    return "met" if ok else "MISSED"


def gcbench_shape(args):
    if not registry.collectors()["boehm"].available:
        print("[gcbench shape] boehm unavailable (install libgc-dev): skipped")
        return True
    params = {"max_depth": 10, "long_lived_depth": 10} if args.smallest else {}
    best = {}
    for _ in range(args.repeat):
        for collector in ("marksweep", "boehm"):       # alternate, so drift hits both
            r = gcbench.run(collector, "binary-trees", params=params, heap=args.heap)
            prev = best.get(collector)
            if prev is None or r["wall_s"] < prev["wall_s"]:
                best[collector] = r
    ms, bo = best["marksweep"], best["boehm"]
    ratio = ms["wall_s"] / bo["wall_s"]
    ms_max, bo_max = max(ms["pauses_ns"] or [0]), max(bo["pauses_ns"] or [0])
    print(f"[gcbench shape] binary-trees heap {args.heap}: marksweep {ms['wall_s'] * 1e3:.1f} ms "
          f"({ms['cycles']} cycles, longest pause {ms_max / 1e6:.2f} ms), boehm {bo['wall_s'] * 1e3:.1f} ms "
          f"({bo['cycles']} cycles, longest pause {bo_max / 1e6:.2f} ms)")
    print(f"  marksweep / boehm total time: {ratio:.2f} (target <= 1.0: {verdict(ratio <= 1.0)}); "
          f"longest pause {ms_max / 1e6:.2f} vs {bo_max / 1e6:.2f} ms (target shorter: {verdict(ms_max < bo_max)})")
    return ratio <= 1.0 and ms_max < bo_max


def marking(args):
    n = 20_000 if args.smallest else 1_000_000
    heap = ManagedHeap(1 << 30, None)
    marksweep.attach(heap, {})
    mb.build_tree(heap, n, True)
    ns = mb.mark_ns(heap, max(args.repeat, 2))
    print(f"[marking] shuffled random graph of {n} objects: {ns:.1f} ns/object (target <= 30: {verdict(ns <= 30)})")
    return ns <= 30


def allocation(args):
    # The fast path's own cost: a working set that stays in cache (64K objects, 2 MiB),
    # reused round after round, for the heap (a collection frees it between rounds; GOGC
    # off, so none happens inside the timed loop) and for the free list alike.
    n = 65536
    rounds = 3 if args.smallest else 30
    heap = ManagedHeap(1 << 30, None)
    marksweep.attach(heap, {})
    times = []
    for _ in range(rounds):
        heap.collect()
        times.append(mb.alloc_ns(heap, n))
    alloc = min(times)
    freelist = min(mb.freelist_pop_ns(n) for _ in range(rounds))
    malloc = min(mb.malloc_ns(n, 32) for _ in range(rounds))
    print(f"[allocation] 32-byte objects, {n} a round, best of {rounds}: heap_alloc {alloc:.2f} ns, "
          f"C free list {freelist:.2f} ns, malloc {malloc:.2f} ns")
    print(f"  heap_alloc / free list: {alloc / freelist:.2f} (target <= 2.0: {verdict(alloc / freelist <= 2.0)}); "
          f"heap_alloc / malloc: {alloc / malloc:.2f} (target < 1.0: {verdict(alloc < malloc)})")
    return alloc / freelist <= 2.0 and alloc < malloc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smallest", action="store_true", help="tiny sizes, one repeat, no checks")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    ap.add_argument("--heap", default="256M", help="heap for the GCBench-shape runs (default 256M)")
    ap.add_argument("--no-check", action="store_true", help="print only; exit 0 even if a target is missed")
    args = ap.parse_args(argv)
    if args.smallest:
        args.repeat = 1
    ok = gcbench_shape(args)
    ok = marking(args) and ok
    ok = allocation(args) and ok
    return 0 if ok or args.smallest or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())
