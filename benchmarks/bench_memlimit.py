#!/usr/bin/env python3
"""GOMEMLIMIT and Go's GC CPU limiter on a leak (issue 15): with and without the limiter.

`leak` grows its live heap without bound; with --memlimit at twice its starting live heap
the goal is soon the limit and the live heap passes it.  Go calls what follows the death
spiral (Go issues 58106, 59324): back-to-back cycles whose assists take the mutator's
time.  Go's GC CPU limiter (a leaky bucket: GC time minus mutator time, full above about
50%) turns assists off while full, so the program degrades (its heap passes the limit)
instead of stalling.

The script first measures the starting live heap (the first cycle's marked bytes, no
limit), then runs the same leak under tricolor with the limit, the limiter on and off
(alternating, --repeat times each), and prints per run: wall time, cycles, GC CPU in Go's
sense (assists, dedicated/fractional marking, pauses x GOMAXPROCS, over wall x GOMAXPROCS)
over the whole run and in the worst 100 ms window (from the cumulative GC CPU each cycle
records), the time the limiter spent limiting, the peak heap, and a text chart of the
windows.  Figures are printed, not asserted (--check exits 1 when the limiter-on runs
exceed 55% in a window or do not complete).

    PYTHONPATH=$PWD python benchmarks/bench_memlimit.py [--requests N] [--repeat N] [--json OUT] [--smallest]
"""
import argparse
import json
import sys

import numpy as np

import gcbench
from gcbench.errors import RunError, UsageError

WINDOW_NS = 100_000_000
CAP = 0.55                     # "about 50%": the limiter's cap with the bucket's slack


def windows(result):
    """GC CPU share (Go's sense) in consecutive 100 ms windows, from the cycle log."""
    log = result["cycle_log"]
    procs = result.get("procs") or 1
    t = np.array([0] + [c["end_ns"] for c in log], dtype=np.float64)
    g = np.array([0] + [c["gc_cpu_ns"] for c in log], dtype=np.float64)
    end = t[-1]
    if end < WINDOW_NS:
        return [float(g[-1] / (max(end, 1) * procs))]
    edges = np.arange(0, end + 1, WINDOW_NS, dtype=np.float64)
    at = np.interp(edges, t, g)
    return [float(x) for x in np.diff(at) / (WINDOW_NS * procs)]


def bar(share, width=40):
    n = int(round(min(share, 1.0) * width))
    return "#" * n + "." * (width - n)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50000)
    parser.add_argument("--leak-fraction", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--smallest", action="store_true", help="smoke-test size (seconds)")
    args = parser.parse_args(argv)
    if args.smallest:
        args.requests, args.repeat = 5000, 1
    params = {"requests": args.requests, "leak_fraction": args.leak_fraction}
    try:
        first = gcbench.run("tricolor", "leak", params=params, procs=args.procs)
    except (UsageError, RunError) as exc:
        print(f"bench_memlimit.py: {exc}", file=sys.stderr)
        return 2
    start_live = first["cycle_log"][0]["live_bytes"]
    limit = 2 * start_live
    print(f"leak {params}, GOMAXPROCS {args.procs}: starting live heap {start_live} bytes, "
          f"no limit: {first['cycles']} cycles in {first['wall_s']:.2f} s; "
          f"--memlimit {limit} (2x)")
    rows, out = [], []
    for _ in range(args.repeat):
        for limiter in ("on", "off"):
            try:
                r = gcbench.run("tricolor", "leak", params=params, opts={"limiter": limiter},
                                procs=args.procs, memlimit=limit)
                completed = True
            except RunError as exc:
                print(f"  limiter {limiter}: the run failed: {exc}")
                out.append({"limiter": limiter, "completed": False, "error": str(exc)})
                rows.append((limiter, None))
                continue
            w = windows(r)
            c = r["counters"]
            total = c["gc_cpu_go_ns"] / (r["wall_s"] * 1e9 * args.procs) if r["wall_s"] else 0.0
            rows.append((limiter, {"wall": r["wall_s"], "cycles": r["cycles"], "total": total,
                                   "worst": max(w), "limited": c["limiter_limited_ns"] / 1e9,
                                   "peak": r["peak_heap_bytes"], "windows": w, "completed": completed}))
            out.append({"limiter": limiter, **rows[-1][1]})
    print(f"\n  {'limiter':8s} {'wall s':>7s} {'cycles':>7s} {'GC CPU':>7s} {'worst 100ms':>12s} "
          f"{'limiting s':>11s} {'peak heap MiB':>14s}")
    for limiter, f in rows:
        if f is None:
            print(f"  {limiter:8s} failed")
            continue
        print(f"  {limiter:8s} {f['wall']:7.2f} {f['cycles']:7d} {100 * f['total']:6.1f}% "
              f"{100 * f['worst']:11.1f}% {f['limited']:11.2f} {f['peak'] / 2**20:14.1f}")
    for limiter, f in rows:
        if f is None:
            continue
        print(f"\n  GC CPU per 100 ms window, limiter {limiter} (each # is 2.5%):")
        for i, share in enumerate(f["windows"]):
            print(f"    {i * 100:6d} ms {bar(share)} {100 * share:5.1f}%")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"params": params, "procs": args.procs, "memlimit": limit, "runs": out}, fh, indent=1)
    on = [f for lim, f in rows if lim == "on"]
    ok = all(f is not None and f["worst"] <= CAP for f in on)
    print(f"\n  limiter on: every run completed and every 100 ms window at most {100 * CAP:.0f}% GC CPU: "
          f"{'yes' if ok else 'NO'}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
