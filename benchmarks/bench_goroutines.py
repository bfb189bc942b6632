#!/usr/bin/env python3
"""Goroutine leaks and stack scanning (issue 20, item 6): goroutine-leak with 100,000 leaked
goroutines under tricolor and marksweep.

Every leaked goroutine stays parked with its stack of K root slots (and the objects it
reaches).  A stop-the-world collector (marksweep) scans every parked stack inside its pause,
so its pauses grow with the goroutine count; tricolor scans parked stacks concurrently (its
background worker) or at a goroutine's own safepoint, so its pauses do not, while its
stack-scan work grows as marksweep's does.  Per collector the script prints the longest
pause, the goroutines, the stack-scan work (Go's /gc/scan/stack) in total and inside pauses,
and the samples the workload took along the run (goroutines, live heap, stack-scan work
growing together).  Target (the issue): tricolor's longest pause under 1 ms with 100,000
leaked goroutines while the stack-scan work grows; PASS/MISS is printed, and --check exits 1
on a MISS (otherwise 0).  Timings are wall-clock: on a loaded machine a pause that is
descheduled lasts a time slice (milliseconds), whatever the collector does, so each
collector runs --repeat times and the verdict takes the median of the runs' longest pauses
(every run's is printed); the in-pause stack-scan work, a counter, is the load-free figure.

    PYTHONPATH=$PWD python benchmarks/bench_goroutines.py [--leaked N] [--repeat N] [--json OUT] [--check] [--smallest]
"""
import argparse
import json
import sys

import gcbench
from gcbench.errors import RunError, UsageError

TARGET_PAUSE_NS = 1_000_000
LEAK = 0.5


def fmt_bytes(n):
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaked", type=int, default=100_000, help="leaked goroutines (about)")
    parser.add_argument("--stack-slots", type=int, default=8, help="K, root slots per goroutine stack")
    parser.add_argument("--heap", default="512M")
    parser.add_argument("--repeat", type=int, default=5, help="runs per collector (the median longest pause decides)")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--check", action="store_true", help="exit 1 on a MISS")
    parser.add_argument("--smallest", action="store_true", help="smoke-test size (seconds)")
    args = parser.parse_args(argv)
    if args.smallest:
        args.leaked, args.repeat = 20000, 1
    params = {"requests": int(args.leaked / LEAK), "leak": LEAK, "objects": 2, "payload": 32,
              "stack_slots": args.stack_slots, "in_flight": 64, "samples": 5}
    print(f"goroutine-leak {params} (heap {args.heap}, GOGC 100)")
    out = {"params": params, "runs": {}}
    rows = {}
    longest_of_runs = {}
    for collector in ("tricolor", "marksweep"):
        runs = []
        for _ in range(max(args.repeat, 1)):
            try:
                runs.append(gcbench.run(collector, "goroutine-leak", params=params, heap=args.heap))
            except (UsageError, RunError) as exc:
                print(f"bench_goroutines.py: {collector}: {exc}", file=sys.stderr)
                return 2
        longest_of_runs[collector] = sorted(max(x["pauses_ns"] or [0]) for x in runs)
        r = sorted(runs, key=lambda x: max(x["pauses_ns"] or [0]))[len(runs) // 2]   # the median run
        pauses = r["pauses_ns"]
        longest = max(pauses) if pauses else 0
        kind = r["pause_kinds"][pauses.index(longest)] if pauses else "-"
        c = r["counters"]
        rows[collector] = r
        print(f"\n{collector}: longest pause of each of {len(runs)} runs: "
              + ", ".join(f"{x / 1e6:.3f} ms" for x in longest_of_runs[collector]))
        print(f"  the median run: {r['cycles']} cycles, {len(pauses)} pauses, longest {longest / 1e6:.3f} ms "
              f"({kind}), p50 {sorted(pauses)[len(pauses) // 2] / 1e6 if pauses else 0:.3f} ms, "
              f"{r['goroutines']} goroutines left ({r['leaked_goroutines']} leaked)")
        print(f"  stack-scan work: {fmt_bytes(c['stack_scan_bytes'])} in total, "
              f"{fmt_bytes(c['stack_scan_pause_bytes'])} of it inside pauses")
        print(f"  {'requests':>9} {'goroutines':>10} {'live heap':>10} {'stack scan total':>17} "
              f"{'in pauses':>10} {'last cycle':>11} {'longest pause so far':>21}")
        for s in r["goroutine_samples"][:-1]:
            so_far = [p for p, t in zip(pauses, r["pause_starts_ns"]) if t <= s["time_s"] * 1e9]
            print(f"  {s['requests']:>9} {s['/sched/goroutines:goroutines']:>10} "
                  f"{fmt_bytes(s['/gc/heap/live:bytes']):>10} {fmt_bytes(s['stack_scan_bytes_total']):>17} "
                  f"{fmt_bytes(s['stack_scan_pause_bytes_total']):>10} {fmt_bytes(s['/gc/scan/stack:bytes']):>11} "
                  f"{(max(so_far) / 1e6 if so_far else 0):>18.3f} ms")
        out["runs"][collector] = {"longest_pause_ns": longest, "longest_pause_kind": kind,
                                  "goroutines": r["goroutines"], "leaked": r["leaked_goroutines"],
                                  "stack_scan_bytes": c["stack_scan_bytes"],
                                  "stack_scan_pause_bytes": c["stack_scan_pause_bytes"],
                                  "samples": r["goroutine_samples"], "pauses_ns": pauses}
    t = rows["tricolor"]
    samples = t["goroutine_samples"][:-1]
    grows = samples[-1]["stack_scan_bytes_total"] > 2 * max(samples[0]["stack_scan_bytes_total"], 1)
    longest = max(t["pauses_ns"]) if t["pauses_ns"] else 0       # the median run's
    ok = longest < TARGET_PAUSE_NS and grows
    ms_longest = max(rows["marksweep"]["pauses_ns"] or [0])
    print(f"\ntricolor with {t['leaked_goroutines']} leaked goroutines: longest pause {longest / 1e6:.3f} ms "
          f"(median of {len(longest_of_runs['tricolor'])} runs; target < {TARGET_PAUSE_NS / 1e6:g} ms; "
          f"marksweep's {ms_longest / 1e6:.3f} ms), goroutine slots scanned in its pauses "
          f"{t['counters']['stack_scan_pause_bytes'] // 8} (marksweep's "
          f"{rows['marksweep']['counters']['stack_scan_pause_bytes'] // 8}), stack-scan work "
          f"{'grows' if grows else 'does NOT grow'} ({fmt_bytes(samples[0]['stack_scan_bytes_total'])} -> "
          f"{fmt_bytes(samples[-1]['stack_scan_bytes_total'])}): {'PASS' if ok else 'MISS'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
