"""Pool against plain allocation on the `server` workload, same seed and collector.

Prints, for pool=false and pool=true: bytes and objects allocated, collections, total
stop-the-world time, ns per request, and request latency p50/p99/p99.9/max (the median
over --repeat interleaved runs of each, since latency is timed).  Then checks what
issue 4 promises and exits 1 if it does not hold:
  * bytes allocated fall by at least 80%;
  * the number of collections falls;
  * p99 request latency is no worse with the pool (median p99 over the repeats, with
    --slack, default 5%, for timer noise on a shared machine).
With --threads N (N > 1) the requests are served by N worker threads (server's
`threads`, one pool P each, stealing between threads): the same figures plus the
threads' summed CPU time against the longer thread's wall time, printed and not checked.

  python benchmarks/bench_server.py [--collector marksweep] [--requests 200000]
                                    [--repeat 5] [--rate 0] [--heap 256M] [--threads 1]
"""
import argparse
import statistics
import sys

import gcbench
from gcbench import registry


def run_pair(collector, params, seed, heap, repeat):
    runs = {False: [], True: []}
    for _ in range(repeat):
        for pool in (False, True):       # interleaved, so drift hits both alike
            runs[pool].append(gcbench.run(collector, "server", params=dict(params, pool=pool),
                                          seed=seed, heap=heap))
    return runs


def median_of(results, key, sub=None):
    values = [r[key][sub] if sub else r[key] for r in results]
    return statistics.median(values)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collector", default="marksweep")
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--buffer-bytes", type=int, default=4096)
    ap.add_argument("--rate", type=float, default=0.0, help="requests/s (0: back to back)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heap", default="256M")
    ap.add_argument("--threads", type=int, default=1,
                    help="worker threads (server's threads; > 1: figures printed, not checked)")
    ap.add_argument("--slack", type=float, default=0.05,
                    help="allowed relative p99 excess with the pool (timer noise)")
    ap.add_argument("--smallest", action="store_true",
                    help="smoke-test size: 5000 requests, one repeat, figures printed but not checked")
    args = ap.parse_args(argv)
    if args.smallest:
        args.requests, args.repeat = 5000, 1
    if args.collector not in registry.collectors():
        ap.error(f"unknown collector {args.collector!r}")
    params = {"requests": args.requests, "workers": args.workers,
              "buffer_bytes": args.buffer_bytes, "rate": args.rate}
    if args.threads > 1:
        params["threads"] = args.threads
    runs = run_pair(args.collector, params, args.seed, args.heap, args.repeat)

    latency_key = "metered_latency_ns" if args.rate > 0 else "request_latency_ns"
    print(f"server on {args.collector}: {args.requests} requests, {args.workers} workers, "
          f"{args.buffer_bytes} B buffers, rate {args.rate or 'back to back'}, seed {args.seed}, "
          f"{args.threads} thread(s), median of {args.repeat}")
    print(f"{'':>10} {'alloc MB':>10} {'objects':>10} {'cycles':>7} {'STW ms':>8} {'ns/req':>8}"
          f" {'p50 ns':>8} {'p99 ns':>9} {'p99.9 ns':>10} {'max ns':>10}")
    figures = {}
    for pool in (False, True):
        rs = runs[pool]
        first = rs[0]
        f = {
            "alloc_bytes": first["alloc_bytes"],
            "alloc_count": first["alloc_count"],
            "cycles": first["cycles"],
            "stw_ns": statistics.median(r["summary"]["total_stw_ns"] for r in rs),
            "ns_per_request": statistics.median(r["wall_s"] * 1e9 / args.requests for r in rs),
            **{k: median_of(rs, latency_key, k) for k in ("p50", "p99", "p99.9", "max")},
        }
        figures[pool] = f
        print(f"{'pool' if pool else 'no pool':>10} {f['alloc_bytes'] / 1e6:>10.1f} {f['alloc_count']:>10}"
              f" {f['cycles']:>7} {f['stw_ns'] / 1e6:>8.2f} {f['ns_per_request']:>8.0f}"
              f" {f['p50']:>8.0f} {f['p99']:>9.0f} {f['p99.9']:>10.0f} {f['max']:>10.0f}")
        if args.threads > 1:
            cpu = statistics.median(sum(r["thread_cpu_s"]) for r in rs)
            wall = statistics.median(max(r["thread_wall_s"]) for r in rs)
            print(f"{'':>10} threads: summed CPU {cpu * 1e3:.1f} ms, longest wall {wall * 1e3:.1f} ms "
                  f"({cpu / wall:.2f} CPUs busy at once)")
        if pool:
            p = first["pool"]
            print(f"{'':>10} pool: {p}")

    plain, pooled = figures[False], figures[True]
    if args.threads > 1:
        print(f"  (threads: not checked) bytes allocated {plain['alloc_bytes'] / 1e6:.1f} -> "
              f"{pooled['alloc_bytes'] / 1e6:.1f} MB, p99 {plain['p99']:.0f} -> {pooled['p99']:.0f} ns")
        return 0
    cut = 1 - pooled["alloc_bytes"] / plain["alloc_bytes"]
    checks = [
        (f"bytes allocated fall by {cut * 100:.1f}% (at least 80%)", cut >= 0.80),
        (f"collections fall: {plain['cycles']} -> {pooled['cycles']}", pooled["cycles"] < plain["cycles"]),
        (f"p99 {latency_key}: {plain['p99']:.0f} -> {pooled['p99']:.0f} ns (no worse, {args.slack:.0%} slack)",
         pooled["p99"] <= plain["p99"] * (1 + args.slack)),
    ]
    ok = True
    for text, passed in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {text}")
        ok = ok and passed
    return 0 if ok or args.smallest else 1


if __name__ == "__main__":
    sys.exit(main())
