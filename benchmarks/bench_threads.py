"""Mutator threads and the stop-the-world handshake (issue 20): mt-gcbench threads=N.

For each collector that runs several mutator threads (PlanConstraints.multi_mutator) and
reclaims exactly, one run of mt-gcbench with --threads mutator threads (one whole
benchmark per thread, as Whippet's mt-gcbench) prints:
  * the pauses: count, p99 and longest (each timed from the stop request to the restart);
  * the time to safepoint (Go's /sched/pauses/stopping/gc): p99 and max over the pauses;
  * the threads' CPU clocks against the wall time of the longest thread: a sum above the
    wall time proves the threads ran at the same time.
Target (issue 20): tricolor's longest pause under 1 ms with 2 threads, the time to
safepoint reported.  Until tricolor runs several mutator threads, the line says so and
the target is not measured (MISS with --check).

Usage (from a checkout built in place: PYTHONPATH=$PWD; or with gcbench installed):
    python benchmarks/bench_threads.py              # Whippet's sizes, 2 threads
    python benchmarks/bench_threads.py --smallest   # a quick smoke run
Prints its figures; exits 0 unless --check and the target is missed.
"""
import argparse
import sys

import gcbench
from gcbench import metrics, registry

TARGET_NS = 1_000_000


def fmt_ms(ns):
    return f"{ns / 1e6:.3f} ms"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heap", default="256M")
    ap.add_argument("--smallest", action="store_true", help="small trees: a quick smoke run")
    ap.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = ap.parse_args(argv)
    params = {"threads": args.threads}
    if args.smallest:
        params.update(long_lived_depth=10, array_len=10000, min_depth=4, max_depth=10)
    print(f"[threads] mt-gcbench {' '.join(f'{k}={v}' for k, v in params.items())} heap={args.heap} GOGC=100")
    entries = registry.collectors()
    threaded = [name for name in ("tricolor", "marksweep")
                if name in entries and entries[name].constraints.multi_mutator]
    longest = {}
    for collector in threaded:
        r = gcbench.run(collector, "mt-gcbench", params=params, heap=args.heap)
        pauses = metrics.percentiles(r["pauses_ns"]) or {"p99": 0, "max": 0}
        stopping = r["summary"]["stopping_ns"] or {"p99": 0, "max": 0}
        cpu, wall = sum(r["thread_cpu_s"]), max(r["thread_wall_s"])
        longest[collector] = pauses["max"]
        print(f"  {collector:9s} cycles {r['cycles']:3d}  pauses {len(r['pauses_ns']):3d}  "
              f"p99 {fmt_ms(pauses['p99'])}  longest {fmt_ms(pauses['max'])}  |  time to safepoint "
              f"p99 {fmt_ms(stopping['p99'])}  max {fmt_ms(stopping['max'])}")
        print(f"  {'':9s} thread CPU {' + '.join(f'{c:.3f}' for c in r['thread_cpu_s'])} = {cpu:.3f} s "
              f"over {wall:.3f} s wall ({cpu / wall if wall else 0:.2f} CPUs busy at once)")
    if "tricolor" in longest:
        ok = longest["tricolor"] < TARGET_NS
        print(f"  target: tricolor's longest pause {fmt_ms(longest['tricolor'])} < 1 ms: {'PASS' if ok else 'MISS'}")
    else:
        ok = False
        print("  target: tricolor's longest pause < 1 ms: NOT MEASURED (tricolor runs one mutator "
              "thread: PlanConstraints.multi_mutator is false)")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
