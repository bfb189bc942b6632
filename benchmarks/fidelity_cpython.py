#!/usr/bin/env python3
"""fidelity_cpython.py: gcbench's `refcount` side by side with the CPython running it.

Two parts, each printed as a table with both sides and their ratio:

  counting  The same program shape in the real interpreter (in a fresh child process, so
            that the parent's imports do not weigh on generation 2) and in the model
            (`python-cycles`, only its list-shaped structures: parent nodes whose children
            link back, and plain lists of atoms; every container is a list on both sides,
            so both track the same containers).  The model runs with the thresholds of
            this interpreter (gc.get_threshold()).  The real side times every collection
            with gc.callbacks.  Printed per generation: collections, pause p50 and max,
            objects collected.  Target: collections per generation within +-25%.
  full      The model's full-collection pause (gc.collect(): generation 2) over the
            `python-heap` graph (this process's own object graph, rebuilt) against the
            real gc.collect() over the same interpreter's graph, in this same process,
            each the median of several.  Target: within 3x.

A missed target is printed, not fatal, unless --check (exit 1).  Bad arguments: one line,
exit 2.  The machine's load moves the pause figures (not the counts): read them as ratios.

    python benchmarks/fidelity_cpython.py                  # default sizes (about 20 s)
    python benchmarks/fidelity_cpython.py --smallest       # tiny sizes (the smoke test)
    python benchmarks/fidelity_cpython.py --ops 1000000 --json out.json --check
"""
import argparse
import gc
import json
import statistics
import subprocess
import sys
import time

GENERATIONS = ("gen0", "gen1", "gen2")

# The fixed program shape (the tests use it too): cyclic parent nodes and plain lists.
SHAPE = {"parent_rate": 0.2, "children": 4, "keep_rate": 0.05, "live": 10000}

# The real program, run with `python -c` in a child: the same structures as the model's
# build_parent / build_plain, with lists only (string constants are not allocated).
REAL_PROGRAM = r'''
import gc, json, random, sys, time
ops, live, keep_rate, parent_rate, children, seed = (int(sys.argv[1]), int(sys.argv[2]),
    float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
events = []
state = {}
def callback(phase, info):
    if phase == "start":
        state["t0"] = time.perf_counter_ns()
    else:
        events.append((info["generation"], time.perf_counter_ns() - state["t0"], info["collected"]))
def run():
    rnd = random.Random(seed).random
    ring = [None] * live
    for step in range(ops):
        if rnd() < parent_rate:
            node = [None, None, "name"]
            kids = [None] * children
            node[0] = kids
            for k in range(children):
                kids[k] = [None, node, None]
        else:
            node = ["a", "b", "c", "d"]
        if rnd() < keep_rate:
            ring[int(rnd() * live)] = node
        node = kids = None
gc.collect()
gc.callbacks.append(callback)
run()
gc.callbacks.remove(callback)
print(json.dumps({"thresholds": gc.get_threshold(), "events": events, "version": sys.version.split()[0]}))
'''


def real_counting(ops, seed=1, shape=SHAPE):
    """Run the shape in a fresh interpreter; per generation: collections, pauses, collected."""
    args = [sys.executable, "-c", REAL_PROGRAM, str(ops), str(shape["live"]), str(shape["keep_rate"]),
            str(shape["parent_rate"]), str(shape["children"]), str(seed)]
    out = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    per = {g: {"collections": 0, "pauses_ns": [], "collected": 0} for g in GENERATIONS}
    for generation, ns, collected in out["events"]:
        per[GENERATIONS[generation]]["collections"] += 1
        per[GENERATIONS[generation]]["pauses_ns"].append(ns)
        per[GENERATIONS[generation]]["collected"] += collected
    return per, out["version"]


def model_counting(ops, seed=1, shape=SHAPE, thresholds=None):
    """The same shape in gcbench's refcount with this interpreter's thresholds."""
    import gcbench
    from gcbench_core.collectors import refcount
    t0, t1, t2 = thresholds or gc.get_threshold()
    holder = {}
    result = gcbench.run("refcount", "python-cycles", heap="1G", seed=seed,
                         opts={"cycles": "generational", "threshold0": t0, "threshold1": t1, "threshold2": t2},
                         params={"ops": ops, "live": shape["live"], "keep_rate": shape["keep_rate"],
                                 "parent_rate": shape["parent_rate"], "children": shape["children"],
                                 "dict_rate": 0.0, "closure_rate": 0.0, "exception_rate": 0.0},
                         on_heap=lambda h: holder.setdefault("heap", h))
    stats = refcount.collection_stats(holder["heap"])
    per = {g: {"collections": stats[g]["collections"], "collected": stats[g]["collected"],
               "pauses_ns": [p for p, k in zip(result["pauses_ns"], result["pause_kinds"]) if k == g]}
           for g in GENERATIONS}
    return per


def full_collection(repeats, modules=None):
    """Median model gen2 pause over python-heap's graph, and the median real gc.collect()
    in this process (which holds the same graph's interpreter), in ns; with object counts."""
    import gcbench
    from gcbench_core.workloads import python_heap
    params = {"churn_ops": 0}
    if modules:
        params["modules"] = modules
    holder = {}
    result = gcbench.run("refcount", "python-heap", heap="1G", params=params,
                         on_heap=lambda h: holder.setdefault("heap", h))
    heap = holder["heap"]
    model = []
    for _ in range(repeats):
        heap.collect()
        model.append(int(heap.pauses()[-1]["end_ns"] - heap.pauses()[-1]["start_ns"]))
    real = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        gc.collect()
        real.append(time.perf_counter_ns() - t0)
    tracked = len(gc.get_objects())
    from gcbench_core.collectors import refcount
    return {"model_ns": statistics.median(model), "real_ns": statistics.median(real),
            "model_tracked": refcount.collection_stats(heap)["tracked"], "real_tracked": tracked,
            "graph_objects": result["python_objects"]}


def ms(ns_list, fn):
    return f"{fn(ns_list) / 1e6:.3f}" if ns_list else "-"


def ratio(model, real):
    return model / real if real else float("inf") if model else 1.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=600000, help="structures built in the counting part")
    ap.add_argument("--repeat", type=int, default=5, help="full collections timed on each side")
    ap.add_argument("--smallest", action="store_true", help="tiny sizes, for the smoke test")
    ap.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    if args.ops < 1 or args.repeat < 1:
        ap.error("--ops and --repeat must be at least 1")
    ops = 20000 if args.smallest else args.ops
    repeats = 2 if args.smallest else args.repeat
    thresholds = gc.get_threshold()
    real, version = real_counting(ops)
    model = model_counting(ops, thresholds=thresholds)
    print(f"counting: python-cycles shape {SHAPE}, {ops} structures; CPython {version}, "
          f"thresholds {thresholds} on both sides")
    print(f"  {'':6} {'collections':>23} {'pause p50 ms':>21} {'pause max ms':>21} {'collected':>21}  target")
    print(f"  {'':6} {'real':>7} {'model':>7} {'ratio':>7} {'real':>10} {'model':>10} {'real':>10} {'model':>10} "
          f"{'real':>10} {'model':>10}")
    missed = []
    for g in GENERATIONS:
        r, m = real[g], model[g]
        k = ratio(m["collections"], r["collections"])
        ok = abs(k - 1) <= 0.25 or abs(m["collections"] - r["collections"]) <= 1
        if not ok:
            missed.append(f"{g} collections")
        print(f"  {g:6} {r['collections']:>7} {m['collections']:>7} {k:>7.2f} "
              f"{ms(r['pauses_ns'], statistics.median):>10} {ms(m['pauses_ns'], statistics.median):>10} "
              f"{ms(r['pauses_ns'], max):>10} {ms(m['pauses_ns'], max):>10} "
              f"{r['collected']:>10} {m['collected']:>10}  +-25%: {'met' if ok else 'MISSED'}")
    full = full_collection(repeats)
    k = full["model_ns"] / full["real_ns"]
    ok = 1 / 3 <= k <= 3
    if not ok:
        missed.append("full-collection pause")
    print(f"full collection on python-heap ({full['graph_objects']} objects rebuilt; tracked containers: "
          f"model {full['model_tracked']}, real {full['real_tracked']}), median of {repeats}:")
    print(f"  real gc.collect() {full['real_ns'] / 1e6:.3f} ms, model gen2 {full['model_ns'] / 1e6:.3f} ms: "
          f"ratio {k:.2f} (target within 3x: {'met' if ok else 'MISSED'})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"thresholds": thresholds, "python": version, "ops": ops, "shape": SHAPE,
                       "real": real, "model": model, "full": full, "missed": missed}, f, indent=1)
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
