"""Print the effect each workload exists to show, and what traces cost.

    python benchmarks/workload_effects.py [--quick | --smallest]

Figures: escape_fraction 1 vs 0.1 (bytes allocated, cycles); growing-slices with and
without prealloc; leak's live bytes across cycles; lru-cache hit rate by Zipf exponent;
python-heap's graph; recording and replay (record time, file sizes, load time, replay
equality) and the recording hook's cost when off (mutator operations per second).
Modest sizes: a few seconds on a shared 2-core machine.
"""
import argparse
import os
import sys
import tempfile
import time

from gcbench.io import traces
from gcbench.runs.config import make_config
from gcbench.runs.record import record
from gcbench.runs.runner import run
from gcbench.units import format_bytes

SCALE = 1.0          # set by main: 0.25 with --quick, 0.01 with --smallest (the smoke test)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a quarter of the sizes (seconds)")
    size.add_argument("--smallest", action="store_true", help="tiny sizes (the smoke test)")
    return ap.parse_args(argv)


def check_kernels():
    """One line and exit 2 when the compiled kernels cannot be imported (e.g. the
    checkout's uncompiled sources first on the path), instead of a traceback."""
    from gcbench import registry
    from gcbench.errors import UsageError
    try:
        registry.collectors()
    except UsageError as exc:
        print(f"workload_effects.py: {exc}", file=sys.stderr)
        sys.exit(2)


def n(x):
    return max(1, int(x * SCALE))


def ms(ns):
    return "-" if ns is None else f"{ns / 1e6:.2f} ms"


def main(argv=None):
    global SCALE
    args = parse_args(argv)
    SCALE = 0.01 if args.smallest else 0.25 if args.quick else 1.0
    check_kernels()
    print("escape: the same calls, objects and sizes; only where the objects live differs")
    for fraction in (1.0, 0.5, 0.1):
        r = run("marksweep", "escape", params={"calls": n(300000), "escape_fraction": fraction})
        print(f"  escape_fraction={fraction:<4} allocated {format_bytes(r['alloc_bytes']):>10}  "
              f"cycles {r['cycles']:>4}  STW {r['summary']['total_stw_ns'] / 1e6:7.2f} ms  wall {r['wall_s']:.3f} s")

    print("growing-slices: append growth vs make([]T, 0, n)")
    for element in ("pointer", "int"):
        for prealloc in (False, True):
            r = run("marksweep", "growing-slices",
                    params={"slices": n(20000), "element": element, "prealloc": prealloc})
            print(f"  element={element:<7} prealloc={str(prealloc):<5} allocated {format_bytes(r['alloc_bytes']):>10} "
                  f"in {r['alloc_count']:>9} objects, cycles {r['cycles']:>4}")

    print("leak: live bytes at each cycle (every 4th shown)")
    r = run("marksweep", "leak", params={"requests": n(500000), "leak_fraction": 0.02}, heap="512M")
    live = [c["live_bytes"] for c in r["cycle_log"]]
    print("  " + " ".join(format_bytes(b) for b in live[::4]))
    print(f"  {r['leaked_requests']} requests leaked; live grew by {format_bytes(r['live_bytes_growth'])} "
          f"over {r['cycles']} cycles")

    print("lru-cache: hit rate and allocation by Zipf exponent (capacity 20000 of 200000 keys)")
    for s in (0.0, 0.8, 1.0, 1.2):
        r = run("marksweep", "lru-cache", params={"zipf_s": s, "requests": n(1000000)})
        total = r["cache_hits"] + r["cache_misses"]
        print(f"  zipf_s={s:<4} hits {r['cache_hits'] / total:6.1%}  allocated {format_bytes(r['alloc_bytes']):>10}  "
              f"cycles {r['cycles']:>3}  p99 pause {ms(r['summary']['pause_ns']['p99'])}")

    print("python-heap: this process's object graph")
    r = run("marksweep", "python-heap", params={"churn_ops": n(2000000)})
    print(f"  {r['python_objects']} objects, {r['python_edges']} edges, {r['python_roots']} roots, "
          f"{format_bytes(r['python_graph_bytes'])}; pauses p50 {ms(r['summary']['pause_ns']['p50'])} "
          f"max {ms(r['summary']['pause_ns']['max'])} over {r['cycles']} cycles")

    print("traces: churn (defaults) recorded, loaded and replayed")
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ("trace", "bin"):
            path = os.path.join(tmp, f"churn.{ext}")
            t0 = time.perf_counter()
            original, records, fmt = record(make_config("marksweep", "churn", params={"ops": n(2000000)}),
                                            path)
            t1 = time.perf_counter()
            traces._cache.clear()
            traces.load_trace(path)
            t2 = time.perf_counter()
            replay = run("marksweep", "trace-replay", params={"path": path})
            same = (replay["alloc_count"] == original["alloc_count"]
                    and [c["live_bytes"] for c in replay["cycle_log"]] == [c["live_bytes"] for c in original["cycle_log"]])
            print(f"  {fmt:<6} {len(records)} ops: record+write {t1 - t0:5.2f} s, file {format_bytes(os.path.getsize(path)):>10}, "
                  f"load+validate {t2 - t1:5.2f} s, replay {replay['wall_s']:.3f} s "
                  f"(original {original['wall_s']:.3f} s), same allocations and live bytes: {same}")

    print("recording hook, off: mutator operations per second (best of 5)")
    for workload in ("churn", "binary-trees"):
        best = min((run("marksweep", workload) for _ in range(5)), key=lambda r: r["mutator_s"])
        print(f"  {workload:<13} {best['mutator_ops'] / best['mutator_s'] / 1e6:7.1f} M ops/s")


if __name__ == "__main__":
    main()
