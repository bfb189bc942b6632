#!/usr/bin/env python3
"""fidelity.py: gcbench's collectors side by side with the real systems they model.

A collector named after a real one must behave like it on the same program.  The
reference programs under benchmarks/reference/ are gcbench's workloads written natively
(same shapes, object sizes, counts and seeds):

  c/gcbench.c, c/churn.c, c/server.c   built twice with the system compiler: on libgc
                                       (GC_MALLOC, GC_MALLOC_ATOMIC) and on malloc/free
  go/gcbench.go, churn.go, leak.go,    built with the installed Go, each with go/common.go
  go/server.go (-pool: sync.Pool)      (object layout, RNG, report); run with GOMAXPROCS=2,
                                       GOGC=N and GODEBUG=gctrace=1

This script builds them (into $XDG_CACHE_HOME/gcbench/fidelity, or /tmp), then for each
shape runs the native program and the in-lab collector alternately, in one run, each in
a fresh process (libgc has one heap per process), and prints:

  libgc:  native C vs gcbench `boehm`: time, collections, libgc heap in use after a
          collection (max), heap size / peak;
  malloc: native C vs gcbench `malloc`: time, peak bytes held;
  Go:     real Go (its gctrace lines) vs gcbench `tricolor` (--procs 2) at the same GOGC
          (and, for leak, the same GOMEMLIMIT): cycles,
          bytes and objects allocated, heap at cycle start / end of mark / marked, goal
          (medians), GC CPU %, stop-the-world pauses; for server, the pool's effect.

Each check prints its ratio and whether it is within its target: boehm collections within
+-25% of native libgc and time at most 1.3x, in wall time and in CPU time (the native
process's, the in-lab mutator thread's: on a loaded machine the wall times carry the
time the other processes took, the CPU times do not); tricolor cycles within +-25% of Go; tricolor's
heap at mark termination within 1.05x of the cycle's goal in at least 90% of cycles and its
goal_overruns counter equal to the cycle log's count; under GOMEMLIMIT no goal above it.  A missed
target is printed, not fatal, unless --check (exit 1).  A part whose tool is missing
(cc, libgc, go) is skipped with a one-line reason.  Bad arguments: one line, exit 2.

    python benchmarks/fidelity.py                      # every shape, GOGC 100 and 400
    python benchmarks/fidelity.py --shape gcbench --gogc 100 --repeat 5 --json out.json
    python benchmarks/fidelity.py --smallest           # tiny sizes, seconds (the test)
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "reference")
MB = 1 << 20

# Each shape: the gcbench workload, its reference sources, the parameters the native
# programs take (the rest of the workload's parameters must be at their defaults), and
# the tiny sizes of --smallest.
SHAPES = {
    "gcbench": {"workload": "binary-trees", "c": "gcbench.c", "go": "gcbench.go",
                "native_params": ("long_lived_depth", "array_len", "min_depth", "max_depth"),
                "smallest": {"long_lived_depth": 10, "array_len": 20000, "min_depth": 4, "max_depth": 10}},
    "churn": {"workload": "churn", "c": "churn.c", "go": "churn.go",
              "native_params": ("live_objects", "ops", "mutate_fraction", "min_payload", "max_payload",
                                "min_slots", "max_slots"),
              "smallest": {"live_objects": 5000, "ops": 100000}},
    "server": {"workload": "server", "c": "server.c", "go": "server.go",
               "native_params": ("requests", "workers", "buffer_bytes", "small_objects", "small_bytes",
                                 "cache_objects", "cache_keep"),
               "smallest": {"requests": 5000, "cache_objects": 1000}},
    "leak": {"workload": "leak", "c": None, "go": "leak.go",
             "native_params": ("requests", "leak_fraction", "in_flight", "min_slots", "max_slots",
                               "min_payload", "max_payload"),
             "smallest": {"requests": 20000}},
}

BOEHM_COLLECTIONS_TOLERANCE = 0.25
BOEHM_TIME_LIMIT = 1.3
TRICOLOR_CYCLES_TOLERANCE = 0.25
LEAK_MEMLIMIT = 4 << 20          # the leak's GOMEMLIMIT part: its live heap passes 4 MiB midway
GO_PROCS = 2                     # GOMAXPROCS of the Go runs, and --procs of tricolor's
GOAL_SLACK = 1.05                # heap at mark termination at most this times the cycle's goal
GOAL_HELD_SHARE = 0.9            # ... in at least this share of the cycles

# Runs one in-lab measurement in a fresh process and prints its figures as JSON.
INLAB_PROGRAM = r"""
import json, sys
import gcbench
spec = json.loads(sys.argv[1])
try:
    r = gcbench.run(spec["collector"], spec["workload"], params=spec["params"], seed=spec["seed"],
                    heap=spec["heap"], gogc=spec["gogc"], procs=spec.get("procs"),
                    memlimit=spec.get("memlimit"))
except Exception as exc:
    print(json.dumps({"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}))
    sys.exit(0)
keys = ("wall_s", "cycles", "cycle_log", "pauses_ns", "peak_heap_bytes", "alloc_bytes", "alloc_count",
        "gc_cpu_fraction", "params", "pool", "counters", "procs", "memlimit")
print(json.dumps({k: r[k] for k in keys if k in r}, default=float))
"""


class Usage(Exception):
    pass


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME")
    path = os.path.join(base, "gcbench", "fidelity") if base else os.path.join(
        tempfile.gettempdir(), f"gcbench-fidelity-{os.getuid()}")
    os.makedirs(path, exist_ok=True)
    return path


def digest(*paths, extra=""):
    h = hashlib.sha256(extra.encode())
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def build_c(source, use_malloc, cache):
    """Build a C reference (cached by the hash of its sources and flags); (path, reason)."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        return None, f"no C compiler ({cc}) on PATH"
    src = os.path.join(REFERENCE, "c", source)
    flags = ["-O2", "-DUSE_MALLOC"] if use_malloc else ["-O2"]
    libs = [] if use_malloc else ["-lgc"]
    out = os.path.join(cache, f"{source[:-2]}-{'malloc' if use_malloc else 'libgc'}-"
                              f"{digest(src, os.path.join(REFERENCE, 'c', 'common.h'), extra=cc + str(flags))}")
    if not os.path.exists(out):
        proc = subprocess.run([cc, *flags, "-o", out + ".tmp", src, *libs], capture_output=True, text=True)
        if proc.returncode != 0:
            missing_gc = "gc.h" in proc.stderr or "-lgc" in proc.stderr
            reason = ("libgc not found (install libgc-dev)" if missing_gc and not use_malloc
                      else f"{cc} failed on {source}: {proc.stderr.strip().splitlines()[-1:]}")
            return None, reason
        os.replace(out + ".tmp", out)
    return out, ""


def build_go(source, cache):
    go = shutil.which("go")
    if go is None:
        return None, "go not found on PATH (install golang-go)"
    src = os.path.join(REFERENCE, "go", source)
    common = os.path.join(REFERENCE, "go", "common.go")     # shared by every Go reference
    version = subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()
    out = os.path.join(cache, f"{source[:-3]}-go-{digest(common, src, extra=version)}")
    if not os.path.exists(out):
        env = dict(os.environ, GOCACHE=os.path.join(cache, "gocache"), GOPATH=os.path.join(cache, "gopath"),
                   GO111MODULE="off", GOFLAGS="")
        proc = subprocess.run([go, "build", "-o", out + ".tmp", common, src], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            return None, f"go build failed on {source}: {proc.stderr.strip().splitlines()[-1:]}"
        os.replace(out + ".tmp", out)
    return out, ""


def run_native(binary, args, env=None):
    proc = subprocess.run([binary, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[:200]}"}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stderr"] = proc.stderr
    return result


def run_inlab(collector, workload, params, gogc=100, heap="256M", seed=1, procs=None, memlimit=None):
    spec = {"collector": collector, "workload": workload, "params": params, "gogc": gogc,
            "heap": heap, "seed": seed, "procs": procs, "memlimit": memlimit}
    proc = subprocess.run([sys.executable, "-P", "-c", INLAB_PROGRAM, json.dumps(spec)], capture_output=True,
                          text=True, cwd=tempfile.gettempdir())
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


GCTRACE = re.compile(r"^gc (\d+) @([\d.]+)s (\d+)%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, .*? "
                     r"(\d+)->(\d+)->(\d+) MB, (\d+) MB goal")


def parse_gctrace(stderr, after=0):
    """Go's GODEBUG=gctrace=1 lines (Go 1.19 format) of cycles numbered above `after`."""
    cycles = []
    for line in stderr.splitlines():
        m = GCTRACE.match(line)
        if m and int(m[1]) > after:
            cycles.append({"cpu_percent": int(m[3]), "stw_ms": (float(m[4]), float(m[6])),
                           "heap_start_mb": int(m[7]), "heap_end_mb": int(m[8]),
                           "marked_mb": int(m[9]), "goal_mb": int(m[10]), "forced": "(forced)" in line})
    return cycles


def inlab_cpu_s(result):
    """An in-lab run's CPU time: the mutator thread's (libgc marks on it, one marker) plus a
    background mark worker's; what the native program's cpu_s (its process) counts."""
    c = result.get("counters") or {}
    if "mutator_cpu_ns" not in c:
        return None
    return (c["mutator_cpu_ns"] + c.get("background_cpu_ns", 0)) / 1e9


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def native_args(shape, params, style):
    names = SHAPES[shape]["native_params"]
    if style == "c":
        return [f"{k}={v}" for k, v in params.items() if k in names] + ["seed=1"]
    args = [f"-{k}={v}" for k, v in params.items() if k in names] + ["-seed=1"]
    if shape == "server" and params.get("pool"):
        args.append("-pool")
    return args


def fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}{unit}" if abs(value) < 100 else f"{value:.1f}{unit}"
    return f"{value}{unit}"


def ratio(a, b):
    """a / b; 1.0 when both are 0 (e.g. no cycles on either side); None when undefined."""
    if a is None or b is None:
        return None
    if b == 0:
        return 1.0 if a == 0 else None
    return a / b


def print_table(title, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


class Checks:
    def __init__(self):
        self.items = []

    def add(self, name, value, ok, target):
        self.items.append({"check": name, "ratio": value, "ok": bool(ok), "target": target})

    def report(self):
        if not self.items:
            return
        print("\nchecks")
        for c in self.items:
            print(f"  {'ok  ' if c['ok'] else 'MISS'}  {c['check']}: {fmt(c['ratio'])}x (target {c['target']})")


def libgc_part(shape, params, repeat, cache, checks, out):
    src = SHAPES[shape]["c"]
    binary, reason = build_c(src, False, cache)
    if binary is None:
        print(f"\nlibgc {shape}: skipped: {reason}")
        out.append({"part": "libgc", "shape": shape, "skipped": reason})
        return
    native, inlab = [], []
    for _ in range(repeat):            # alternate, so drift on a shared machine hits both
        native.append(run_native(binary, native_args(shape, params, "c")))
        inlab.append(run_inlab("boehm", SHAPES[shape]["workload"], params))
    errors = [r["error"] for r in native + inlab if "error" in r]
    if errors:
        print(f"\nlibgc {shape}: failed: {errors[0]}")
        out.append({"part": "libgc", "shape": shape, "error": errors[0]})
        return
    n_time = median(r["wall_s"] for r in native)
    l_time = median(r["wall_s"] for r in inlab)
    n_cpu = median(r.get("cpu_s") for r in native)
    l_cpu = median(inlab_cpu_s(r) for r in inlab)
    n_coll = median(r["collections"] for r in native)
    l_coll = median(r["cycles"] for r in inlab)
    n_after = median(r["peak_in_use_bytes"] for r in native)
    l_after = median(max((c["heap_after"] for c in r["cycle_log"]), default=None) for r in inlab)
    rows = [("", "native libgc", "gcbench boehm", "ratio"),
            ("time (s, median)", fmt(n_time), fmt(l_time), fmt(ratio(l_time, n_time))),
            ("CPU time (s, median)", fmt(n_cpu), fmt(l_cpu), fmt(ratio(l_cpu, n_cpu))),
            ("collections", fmt(n_coll), fmt(l_coll), fmt(ratio(l_coll, n_coll))),
            ("max in use after GC (MiB)", fmt(n_after / MB), fmt(l_after / MB if l_after else None),
             fmt(ratio(l_after, n_after))),
            ("libgc heap size / gcbench peak heap (MiB)", fmt(median(r["heap_size_bytes"] for r in native) / MB),
             fmt(median(r["peak_heap_bytes"] for r in inlab) / MB), ""),
            ("objects allocated", fmt(native[0]["alloc_count"]), fmt(inlab[0]["alloc_count"]), "")]
    print_table(f"libgc, {shape} ({repeat} runs each, alternating)", rows)
    r_coll, r_time = ratio(l_coll, n_coll), ratio(l_time, n_time)
    checks.add(f"libgc {shape}: boehm collections / native", r_coll,
               r_coll is not None and abs(r_coll - 1) <= BOEHM_COLLECTIONS_TOLERANCE,
               f"1 +- {BOEHM_COLLECTIONS_TOLERANCE}")
    checks.add(f"libgc {shape}: boehm time / native", r_time, r_time is not None and r_time <= BOEHM_TIME_LIMIT,
               f"<= {BOEHM_TIME_LIMIT}")
    r_cpu = ratio(l_cpu, n_cpu)
    checks.add(f"libgc {shape}: boehm CPU time / native", r_cpu, r_cpu is not None and r_cpu <= BOEHM_TIME_LIMIT,
               f"<= {BOEHM_TIME_LIMIT}")
    out.append({"part": "libgc", "shape": shape, "native": native, "inlab": [strip(r) for r in inlab]})


def malloc_part(shape, params, repeat, cache, out):
    binary, reason = build_c(SHAPES[shape]["c"], True, cache)
    if binary is None:
        print(f"\nmalloc {shape}: skipped: {reason}")
        out.append({"part": "malloc", "shape": shape, "skipped": reason})
        return
    if shape == "churn":
        params = dict(params, mutate_fraction=0.0)     # malloc cannot free shared members
    native, inlab = [], []
    for _ in range(repeat):
        native.append(run_native(binary, native_args(shape, params, "c")))
        inlab.append(run_inlab("malloc", SHAPES[shape]["workload"], params))
    n_err = next((r["error"] for r in native if "error" in r), None)
    l_err = next((r["error"] for r in inlab if "error" in r), None)
    if n_err:
        print(f"\nmalloc {shape}: native failed: {n_err}")
        out.append({"part": "malloc", "shape": shape, "error": n_err})
        return
    n_time = median(r["wall_s"] for r in native)
    n_peak = median(r["peak_in_use_bytes"] for r in native)
    l_time = None if l_err else median(r["wall_s"] for r in inlab)
    l_peak = None if l_err else median(r["peak_heap_bytes"] for r in inlab)
    rows = [("", "native malloc", "gcbench malloc", "ratio"),
            ("time (s, median)", fmt(n_time), fmt(l_time), fmt(ratio(l_time, n_time))),
            ("peak held (MiB)", fmt(n_peak / MB), fmt(l_peak / MB if l_peak else None), fmt(ratio(l_peak, n_peak)))]
    title = f"malloc, {shape}" + (" (mutate_fraction=0)" if shape == "churn" else "")
    print_table(title, rows)
    if l_err:
        print(f"  gcbench malloc failed: {l_err}")
    out.append({"part": "malloc", "shape": shape, "native": native,
                "inlab": [strip(r) for r in inlab], "inlab_error": l_err})


def go_figures(native):
    trace = parse_gctrace(native["stderr"], native.get("num_gc_before_run", 0))
    pauses = [p for c in trace for p in c["stw_ms"]]
    return {"cycles": len(trace), "alloc_bytes": native["total_alloc_bytes"], "objects": native["mallocs"],
            "heap_start": median(c["heap_start_mb"] for c in trace),
            "heap_end": median(c["heap_end_mb"] for c in trace),
            "marked": median(c["marked_mb"] for c in trace), "goal": median(c["goal_mb"] for c in trace),
            "gc_cpu": trace[-1]["cpu_percent"] if trace else None,
            "pauses": len(pauses), "pause_p50": median(pauses), "pause_max": max(pauses, default=None),
            "wall": native["wall_s"]}


def tricolor_figures(r):
    log = r["cycle_log"]
    pauses = [p / 1e6 for p in r["pauses_ns"]]
    # the goal each cycle aimed at (Go's gctrace prints that one), and GC CPU in Go's sense
    # at the last cycle (assists, dedicated/fractional marking, pauses x GOMAXPROCS)
    goals = [c.get("cycle_goal_bytes", c["goal_bytes"]) / MB for c in log
             if c.get("cycle_goal_bytes", c["goal_bytes"]) >= 0]
    procs = r.get("procs") or 1
    go_cpu = 100 * log[-1]["gc_cpu_ns"] / (log[-1]["end_ns"] * procs) if log and "gc_cpu_ns" in log[-1] else None
    return {"cycles": r["cycles"], "alloc_bytes": r["alloc_bytes"], "objects": r["alloc_count"],
            "heap_start": median(c["heap_before"] / MB for c in log),
            "heap_end": median(c["heap_after"] / MB for c in log),
            "marked": median(c["live_bytes"] / MB for c in log), "goal": median(goals),
            "gc_cpu": go_cpu if go_cpu is not None else 100 * r["gc_cpu_fraction"],
            "pauses": len(pauses), "pause_p50": median(pauses),
            "pause_max": max(pauses, default=None), "wall": r["wall_s"]}


GO_ROWS = (("cycles", "cycles", ""), ("bytes allocated (MiB)", "alloc_bytes", "MiB"),
           ("objects allocated", "objects", ""), ("heap at cycle start (MB, median)", "heap_start", ""),
           ("heap at end of mark (MB, median)", "heap_end", ""), ("marked live (MB, median)", "marked", ""),
           ("goal (MB, median)", "goal", ""), ("GC CPU %", "gc_cpu", ""), ("STW pauses", "pauses", ""),
           ("pause p50 (ms)", "pause_p50", ""), ("pause max (ms)", "pause_max", ""), ("time (s)", "wall", ""))


def go_part(shape, params, gogc, repeat, cache, checks, out, label=None, memlimit=None):
    label = label or shape
    binary, reason = build_go(SHAPES[shape]["go"], cache)
    if binary is None:
        print(f"\nGo {label} GOGC={gogc}: skipped: {reason}")
        out.append({"part": "go", "shape": label, "gogc": gogc, "skipped": reason})
        return None
    env = dict(os.environ, GOMAXPROCS=str(GO_PROCS), GOGC=str(gogc), GODEBUG="gctrace=1")
    if memlimit:
        env["GOMEMLIMIT"] = str(memlimit)
    native, inlab = [], []
    for _ in range(repeat):
        native.append(run_native(binary, native_args(shape, params, "go"), env=env))
        inlab.append(run_inlab("tricolor", SHAPES[shape]["workload"], params, gogc=gogc, procs=GO_PROCS,
                               memlimit=memlimit))
    errors = [r["error"] for r in native + inlab if "error" in r]
    if errors:
        print(f"\nGo {label} GOGC={gogc}: failed: {errors[0]}")
        out.append({"part": "go", "shape": label, "gogc": gogc, "error": errors[0]})
        return None
    go = [go_figures(r) for r in native]
    tri = [tricolor_figures(r) for r in inlab]
    rows = [("", "Go " + native[0]["go_version"], "gcbench tricolor", "ratio")]
    figures = {}
    for title, key, unit in GO_ROWS:
        g, t = median(f[key] for f in go), median(f[key] for f in tri)
        if unit == "MiB":
            g, t = g / MB, t / MB
        figures[key] = (g, t)
        rows.append((title, fmt(g), fmt(t), fmt(ratio(t, g))))
    print_table(f"Go, {label}, GOGC={gogc}, GOMAXPROCS=2 ({repeat} runs each, alternating)", rows)
    r_cycles = ratio(*reversed(figures["cycles"]))
    if memlimit:
        # under GOMEMLIMIT the cycle count follows how each runtime counts memory against
        # the limit (Go: every mapped byte, stacks and metadata too): printed, not checked;
        # checked: no cycle aims above the limit while the heap marked before it fits under
        # it (past that the goal is the marked heap, as in Go: it cannot be below the live heap)
        worst = max((cur["cycle_goal_bytes"] / memlimit for r in inlab
                     for prev, cur in zip(r["cycle_log"], r["cycle_log"][1:])
                     if cur.get("cycle_goal_bytes", -1) >= 0 and prev["live_bytes"] < memlimit),
                    default=None)
        checks.add(f"Go {label} GOGC={gogc}: tricolor's largest goal / GOMEMLIMIT (marked heap under it)",
                   worst, worst is not None and worst <= 1.0, "<= 1")
    else:
        checks.add(f"Go {label} GOGC={gogc}: tricolor cycles / Go", r_cycles,
                   r_cycles is not None and abs(r_cycles - 1) <= TRICOLOR_CYCLES_TOLERANCE,
                   f"1 +- {TRICOLOR_CYCLES_TOLERANCE}")
    goal_checks(label, gogc, inlab, checks)
    out.append({"part": "go", "shape": label, "gogc": gogc, "go": go, "tricolor": tri,
                "native": [{k: v for k, v in r.items() if k != "stderr"} for r in native]})
    return figures


def goal_share(r):
    """(share of cycles whose heap at mark termination is at most GOAL_SLACK x their goal,
    cycles over their goal in the cycle log, the goal_overruns counter)."""
    log = [c for c in r["cycle_log"] if c.get("cycle_goal_bytes", -1) >= 0]
    held = sum(1 for c in log if c["heap_after"] <= GOAL_SLACK * c["cycle_goal_bytes"])
    over = sum(1 for c in log if c["heap_after"] > c["cycle_goal_bytes"])
    return (held / len(log) if log else None), over, r["counters"]["goal_overruns"]


def goal_checks(label, gogc, inlab, checks):
    """The pacer holds the goal: heap at mark termination <= 1.05 x goal in >= 90% of
    cycles (the worst run), and goal_overruns equals the cycle log's count in every run."""
    shares = [goal_share(r) for r in inlab]
    worst = min((s[0] for s in shares if s[0] is not None), default=None)
    print(f"  tricolor: cycles ending at most {GOAL_SLACK}x their goal: "
          + ", ".join(f"{100 * s[0]:.0f}%" if s[0] is not None else "-" for s in shares)
          + "; goal_overruns counter / cycle log: " + ", ".join(f"{s[2]}/{s[1]}" for s in shares))
    checks.add(f"Go {label} GOGC={gogc}: tricolor cycles within {GOAL_SLACK}x goal (share, worst run)",
               worst, worst is not None and worst >= GOAL_HELD_SHARE, f">= {GOAL_HELD_SHARE}")
    agree = all(s[1] == s[2] for s in shares)
    checks.add(f"Go {label} GOGC={gogc}: goal_overruns agrees with the cycle log", 1.0 if agree else 0.0,
               agree, "1 (equal in every run)")


def strip(r):
    return {k: v for k, v in r.items() if k not in ("cycle_log", "pauses_ns")}


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message)


def main(argv=None):
    parser = Parser(description="gcbench's collectors side by side with native libgc, malloc and Go")
    parser.add_argument("--gogc", type=positive_int, nargs="+", default=[100, 400], help="GOGC values (Go part)")
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append", help="shapes to run (default: all)")
    parser.add_argument("--smallest", action="store_true", help="tiny sizes (seconds): a smoke test")
    parser.add_argument("--repeat", type=positive_int, default=None, help="runs of each side (default 3; 1 with --smallest)")
    parser.add_argument("--json", metavar="OUT", help="write every measurement to OUT")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    try:
        args = parser.parse_args(argv)
        if args.json and os.path.isdir(args.json):
            raise Usage(f"--json {args.json}: is a directory")
    except Usage as exc:
        print(f"fidelity.py: {exc}", file=sys.stderr)
        return 2
    repeat = args.repeat or (1 if args.smallest else 3)
    shapes = args.shape or list(SHAPES)
    cache = cache_dir()
    checks, out = Checks(), []
    print(f"fidelity: shapes {', '.join(shapes)}; GOGC {' '.join(map(str, args.gogc))}; "
          f"{repeat} run(s) per side; binaries in {cache}")
    for shape in shapes:
        params = dict(SHAPES[shape]["smallest"]) if args.smallest else {}
        if SHAPES[shape]["c"]:
            libgc_part(shape, params, repeat, cache, checks, out)
            malloc_part(shape, params, repeat, cache, out)
        for gogc in args.gogc:
            if shape == "server":
                plain = go_part(shape, dict(params, pool=False), gogc, repeat, cache, checks, out, "server")
                pooled = go_part(shape, dict(params, pool=True), gogc, repeat, cache, checks, out, "server -pool")
                if plain and pooled:
                    g = ratio(pooled["alloc_bytes"][0], plain["alloc_bytes"][0])
                    t = ratio(pooled["alloc_bytes"][1], plain["alloc_bytes"][1])
                    print(f"  pool's effect on bytes allocated (with / without), GOGC={gogc}: "
                          f"Go {fmt(g)}x, gcbench {fmt(t)}x")
            else:
                go_part(shape, params, gogc, repeat, cache, checks, out)
        if shape == "leak":
            go_part(shape, params, 100, repeat, cache, checks, out,
                    f"leak GOMEMLIMIT={LEAK_MEMLIMIT >> 20}MiB", memlimit=LEAK_MEMLIMIT)
    checks.report()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shapes": shapes, "gogc": args.gogc, "smallest": args.smallest, "repeat": repeat,
                       "parts": out, "checks": checks.items}, f, indent=1, default=str)
    if args.check and any(not c["ok"] for c in checks.items):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
