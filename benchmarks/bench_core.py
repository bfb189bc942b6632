#!/usr/bin/env python
"""The core engine's speed targets (issue "Core engine"), printed as figures.

    python benchmarks/bench_core.py            # full size (about 15 s)
    python benchmarks/bench_core.py --smallest # smallest settings (for the smoke test)
    python benchmarks/bench_core.py --check    # exit 1 when a target is missed

1. nogc allocation rate on binary-trees, objects per second of mutator time (target >= 100 M/s).
2. marksweep marking cost on the long-lived tree (depth 16, 131071 nodes), ns per object
   (target <= 5 ns): the mark phase of a forced collection whose live set is just that tree.
3. Marking cost is real: median marksweep pause on binary-trees with long_lived_depth 18
   over depth 16 (4x the long-lived nodes; target >= 2.5x).
Each figure is the best (or median) of several runs in this process, so that one-off page
faults of a fresh arena do not count against the kernel; the allocation line says how many
page faults its best run took (a cold arena pays one per page first touched).
"""
import argparse
import statistics
import sys

import gcbench


def verdict(ok):
    return "met" if ok else "MISSED"


def alloc_rate(repeats, params):
    """(best rate, every rate, page faults of the best run): objects per second of
    mutator time.  The page faults (getrusage's minor faults over the run) say how cold
    the arena was: a freshly mapped arena faults once per page it touches, which is the
    kernel's cost, not the allocator's; an arena the heap pre-touches faults ~0 times."""
    import resource
    rates, faults = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        r = gcbench.run("nogc", "binary-trees", params=params, heap="1G")
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        rates.append(r["alloc_count"] / r["mutator_s"])
    best = max(range(repeats), key=lambda i: rates[i])
    return rates[best], rates, faults[best]


def mark_ns_per_object(depth, repeats):
    holder = {}
    gcbench.run("marksweep", "binary-trees", heap="1G", gogc="off",
                params=dict(long_lived_depth=depth, array_len=0, min_depth=0, max_depth=0),
                on_heap=lambda h: holder.setdefault("heap", h))
    heap = holder["heap"]
    best = float("inf")
    for _ in range(repeats):
        heap.collect()
        cycle = heap.cycles()[-1]
        best = min(best, cycle["mark_ns"] / cycle["live_objects"])
    return best, int(cycle["live_objects"])


def median_pause_ms(depth, params):
    r = gcbench.run("marksweep", "binary-trees", heap="1G", params=dict(params, long_lived_depth=depth))
    return statistics.median(r["pauses_ns"]) / 1e6, r["cycles"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", "--smallest", dest="quick", action="store_true",
                    help="smallest settings, for the smoke test")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when a target is missed (default: print the verdicts, exit 0)")
    args = ap.parse_args(argv)
    repeats = 2 if args.quick else 5
    trees = dict(max_depth=12) if args.quick else {}
    rate, rates, faults = alloc_rate(repeats, trees)
    print(f"nogc binary-trees allocation: {rate / 1e6:.1f} M objects/s of mutator time "
          f"(target >= 100: {verdict(rate >= 100e6)}); best of {repeats}, all "
          f"{min(rates) / 1e6:.1f}-{max(rates) / 1e6:.1f}; the best run took {faults} page faults "
          f"({'a cold arena: first touches count' if faults > 1000 else 'a warm arena'})")
    ns, live = mark_ns_per_object(12 if args.quick else 16, repeats * 2)
    print(f"marksweep marking the long-lived tree: {ns:.2f} ns/object over {live} objects "
          f"(target <= 5: {verdict(ns <= 5)})")
    pause16, c16 = median_pause_ms(12 if args.quick else 16, trees)
    pause18, c18 = median_pause_ms(14 if args.quick else 18, trees)
    print(f"median marksweep pause: {pause16:.3f} ms ({c16} cycles) at long_lived_depth "
          f"{12 if args.quick else 16}, {pause18:.3f} ms ({c18} cycles) at "
          f"{14 if args.quick else 18}: ratio {pause18 / pause16:.2f} "
          f"(target >= 2.5: {verdict(pause18 / pause16 >= 2.5)})")
    met = rate >= 100e6 and ns <= 5 and pause18 / pause16 >= 2.5
    # the targets are figures of a quiet machine: a miss is reported above, and fails the
    # script only when asked (--check), so that a loaded machine's figure is not an error
    return 1 if args.check and not met and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
