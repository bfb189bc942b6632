"""Every figure gcbench reports, computed in one place from a run's raw events.

Inputs are the result dictionary of `gcbench.run` (see runs/runner.py); each function
states its definition, which follows DESIGN.md.  Shared by the runs room (a result's
summary) and the report room (tables, charts); it formats nothing, reads or writes no
file and imports no other gcbench module.
"""
import numpy as np

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9))


def percentiles(values):
    """p50, p90, p99, p99.9 and max over raw values (linear interpolation); None if empty."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {key: None for key, _ in PERCENTILES} | {"max": None}
    out = {key: float(np.percentile(values, q)) for key, q in PERCENTILES}
    out["max"] = float(values.max())
    return out


def pause_intervals(result):
    """(starts, ends) of every pause in ns from the start of the run, sorted by start."""
    starts = np.asarray(result["pause_starts_ns"], dtype=np.int64)
    ends = starts + np.asarray(result["pauses_ns"], dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


def mmu(result, window_ns):
    """Minimum mutator utilization over every window of `window_ns` inside the run.

    Returns (utilization, worst_window_start_ns).  The utilization of a window is the
    fraction of it not covered by pauses.  The minimum is reached by a window that
    starts at a pause start or ends at a pause end, so only those are tried.  A window
    at least as long as the run is the run itself (its overall utilization).
    """
    duration = int(round(result["wall_s"] * 1e9))
    window_ns = int(window_ns)
    if window_ns <= 0:
        raise ValueError("window must be positive")
    starts, ends = pause_intervals(result)
    if window_ns >= duration:
        paused = float(np.sum(np.minimum(ends, duration) - np.maximum(starts, 0))) if starts.size else 0.0
        return max(0.0, 1.0 - paused / max(duration, 1)), 0
    if starts.size == 0:
        return 1.0, 0
    candidates = np.concatenate([starts, ends - window_ns])
    candidates = np.clip(candidates, 0, duration - window_ns)
    # paused time in [a, b) via prefix sums over the sorted, disjoint intervals
    lengths = ends - starts
    prefix = np.concatenate([[0], np.cumsum(lengths)])

    def covered_before(t):
        # paused time in [0, t): whole pauses ending by t, plus the part of the one under way
        i = np.searchsorted(ends, t, side="right")
        total = prefix[i]
        j = np.searchsorted(starts, t, side="left")
        partial = np.where(j > i, t - starts[np.minimum(i, len(starts) - 1)], 0)
        return total + np.maximum(partial, 0)

    paused = covered_before(candidates + window_ns) - covered_before(candidates)
    k = int(np.argmax(paused))
    utilization = 1.0 - float(paused[k]) / window_ns
    return max(0.0, min(1.0, utilization)), int(candidates[k])


MMU_HEADLINE_WINDOW_NS = 10_000_000     # the MMU that summaries and comparisons show
MMU_WINDOWS_NS = tuple(int(w) for w in np.unique(np.round(np.logspace(6, 9, 16)).astype(np.int64)))


def mmu_curve(result, windows_ns=None):
    """[(window_ns, mmu, worst_start_ns)] over log-spaced windows from 1 ms to 1 s.

    Windows longer than the run are replaced by one window covering the whole run (a
    longer window has no position inside it), so the curve ends at the run's overall
    mutator utilization."""
    if windows_ns is None:
        windows_ns = MMU_WINDOWS_NS
    duration = int(round(result["wall_s"] * 1e9))
    inside = [int(w) for w in windows_ns if 0 < w <= duration]
    if duration > 0 and len(inside) < len(windows_ns):
        inside.append(duration)
    return [(w, *mmu(result, w)) for w in sorted(set(inside))]


def pauses_per_cycle(result):
    """Stop-the-world pauses over completed cycles (1 for a stop-the-world collector, 2
    for a concurrent one with a mark-start and a mark-termination pause); None without
    cycles."""
    cycles = result["cycles"]
    return len(result["pauses_ns"]) / cycles if cycles else None


def total_stw_ns(result):
    """Sum of every stop-the-world pause, in ns."""
    return int(np.sum(np.asarray(result["pauses_ns"], dtype=np.int64)))


def throughput(result):
    """(mutator operations per second, allocated bytes per second) of wall time; None
    for a run of zero length."""
    wall = result["wall_s"]
    if wall <= 0:
        return None, None
    return result["mutator_ops"] / wall, result["alloc_bytes"] / wall


def heap_overhead(result):
    """Peak heap in use over peak live heap (1.0 = no space beyond the live data); None
    when nothing was ever marked live (no cycle ran)."""
    live = result["peak_live_bytes"]
    return result["peak_heap_bytes"] / live if live else None


# Two-sided 95% critical values of Student's t for 1..30 degrees of freedom; beyond 30
# the table continues with the few values below, then the normal 1.96.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_T95_TAIL = ((40, 2.021), (50, 2.009), (60, 2.000), (80, 1.990), (100, 1.984), (200, 1.972))


def t_critical_95(df):
    """Two-sided 95% critical value of Student's t with `df` degrees of freedom."""
    df = int(df)
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T95):
        return _T95[df - 1]
    value = _T95[-1]
    for bound, critical in _T95_TAIL:
        if df >= bound:
            value = critical
    return value if df < 1000 else 1.960


def t_test(sample1, sample2):
    """Student's two-sample, two-tailed t-test at 95% with pooled variance (pyperf's
    test, generalised to samples of different sizes).  Returns (significant, t)."""
    a = np.asarray(sample1, dtype=np.float64)
    b = np.asarray(sample2, dtype=np.float64)
    if a.size < 1 or b.size < 1 or a.size + b.size < 3:
        return False, None
    df = a.size + b.size - 2
    pooled = (np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2)) / df
    diff = float(a.mean() - b.mean())
    error = float(np.sqrt(pooled * (1.0 / a.size + 1.0 / b.size)))
    if error == 0.0:
        # identical values within each sample: any difference at all is certain
        if diff == 0.0:
            return False, 0.0
        return True, float("inf") if diff > 0 else float("-inf")
    t = diff / error
    return abs(t) >= t_critical_95(df), t


def gc_cpu_fraction(counters, mutators=1):
    """The share of the run's processor time spent on collection: GC work on the mutator's
    thread (pauses, sweeping and assists, timed with the wall clock while that thread did
    nothing else) plus the background mark worker's CPU time, over the mutator thread's
    wall time (less verification, which is neither) plus the worker's CPU time.  At most 1.
    (Thread CPU clocks would undercount the mutator thread on a busy machine while the
    pauses, wall-timed, did not: that once gave fractions above 100%.)  With `mutators`
    threads each pause stops all of them and each has the wall time to spend (Go counts a
    pause x GOMAXPROCS); sweeping and assists are already summed over the threads."""
    wall = counters["run_end_ns"] - counters["run_start_ns"] - counters.get("verify_ns", 0)
    background = counters["background_cpu_ns"]
    gc = counters["stw_ns"] * mutators + counters["sweep_ns"] + counters["assist_ns"] + background
    total = wall * mutators + background
    return min(1.0, gc / total) if total > 0 else 0.0


def minor_survival(result):
    """Survival rate of the young generation per minor collection: (rates, overall), the
    overall rate being survived over young bytes summed over the minor cycles; ([], None)
    for a run without minor collections."""
    minors = [c for c in result.get("cycle_log") or () if c.get("kind") == "minor"]
    rates = [c["survived_bytes"] / c["young_bytes"] for c in minors if c.get("young_bytes", 0) > 0]
    young = sum(c.get("young_bytes", 0) for c in minors)
    overall = sum(c.get("survived_bytes", 0) for c in minors) / young if young > 0 else None
    return rates, overall


def cycle_kind_counts(result):
    """{kind: number of cycles} over the cycle log (full, minor, major)."""
    counts = {}
    for c in result.get("cycle_log") or ():
        kind = c.get("kind", "full")
        counts[kind] = counts.get(kind, 0) + 1
    return counts


GO_MAX_INT64 = (1 << 63) - 1
# /sched/pauses/total/gc:seconds: bucket edges in seconds, powers of two from 1 us (2**10 ns)
# to 68.7 s (2**36 ns), below them one bucket from 0.
PAUSE_BUCKET_EDGES_S = (0.0,) + tuple((1 << k) / 1e9 for k in range(10, 37))


def pause_histogram(pauses_ns):
    """Go's Float64Histogram of pause lengths: {"buckets": edges (len n + 1), "counts": n}."""
    edges = np.asarray(PAUSE_BUCKET_EDGES_S)
    values = np.minimum(np.asarray(pauses_ns, dtype=np.float64) / 1e9, edges[-1])
    counts, _ = np.histogram(values, bins=edges)
    return {"buckets": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def runtime_metrics(result):
    """The run's figures under Go's runtime/metrics names.  /cpu/classes/gc/total counts, as
    Go does, pauses x GOMAXPROCS, assists, and every mark worker's CPU (idle ones too);
    /gc/heap/live is the heap marked live by the last cycle; /gc/gomemlimit is Go's
    math.MaxInt64 when no limit is set."""
    counters = result["counters"]
    procs = int(result.get("procs") or counters.get("procs") or 1)
    gc_cpu_ns = counters["stw_ns"] * procs + counters["assist_ns"] + counters["background_cpu_ns"]
    limit = result.get("memlimit")
    return {
        "/gc/heap/goal:bytes": int(counters.get("heap_goal_bytes") or 0),
        "/gc/heap/live:bytes": int(counters.get("last_marked_bytes") or 0),
        "/gc/cycles/total:gc-cycles": int(result["cycles"]),
        "/gc/gomemlimit:bytes": int(limit) if limit else GO_MAX_INT64,
        "/cpu/classes/gc/total:cpu-seconds": gc_cpu_ns / 1e9,
        "/sched/pauses/total/gc:seconds": pause_histogram(result["pauses_ns"]),
        "/sched/pauses/stopping/gc:seconds": pause_histogram(result.get("pause_stopping_ns") or []),
        # goroutine stacks (the goroutine-leak workload): NumGoroutine, and the stack bytes
        # the last completed cycle scanned
        "/sched/goroutines:goroutines": int(counters.get("goroutines") or 0),
        "/gc/scan/stack:bytes": int(result["cycle_log"][-1].get("stack_scan_bytes", 0)) if result.get("cycle_log") else 0,
    }


def summarize(result):
    """The headline figures of one run."""
    pauses = np.asarray(result["pauses_ns"], dtype=np.int64)
    wall = result["wall_s"]
    mutator = result["mutator_s"]
    ops_per_s, bytes_per_s = throughput(result)
    summary = {
        "pause_ns": percentiles(pauses),
        "pause_count": int(pauses.size),
        # time to safepoint per pause (Go's /sched/pauses/stopping/gc): p50 .. max
        "stopping_ns": percentiles(np.asarray(result.get("pause_stopping_ns") or [], dtype=np.int64)),
        "pauses_per_cycle": pauses_per_cycle(result),
        "total_stw_ns": total_stw_ns(result),
        "ops_per_s": ops_per_s,
        "alloc_bytes_per_s": bytes_per_s,
        "allocs_per_mutator_s": result["alloc_count"] / mutator if mutator > 0 else None,
        "gc_cpu_fraction": result["gc_cpu_fraction"],
        "peak_heap_bytes": result["peak_heap_bytes"],
        "peak_live_bytes": result["peak_live_bytes"],
        "heap_overhead": heap_overhead(result),
        # the pacer's misses (concurrent collectors): cycles over their goal, and full
        # stop-the-world collections because the arena filled first
        "goal_overruns": int(result.get("counters", {}).get("goal_overruns", 0)),
        "full_gc_fallbacks": int(result.get("counters", {}).get("full_gc_fallbacks", 0)),
    }
    # a run shorter than the window counts as one window: its overall utilization
    summary["mmu_10ms"] = mmu(result, MMU_HEADLINE_WINDOW_NS)[0] if wall > 0 else None
    summary["cycle_kinds"] = cycle_kind_counts(result)
    summary["minor_survival"] = minor_survival(result)[1]
    return summary


# ---------------------------------------------------------------------------
# Lower-bound overhead (LBO; Cai, Blackburn, Bond and Maas, "Distilling the Real Cost of
# Production Garbage Collectors", ISPASS 2022)

def lbo_costs(result, time_s=None):
    """(wall, cpu, distilled) cost of one configuration in seconds, for LBO.

    wall: the time per run (`time_s`, e.g. pyperf's mean; else the run's wall_s).
    cpu: processor time as gc_cpu_fraction counts it: the mutator thread's wall time plus
    the background mark worker's CPU time.
    distilled: the cost with the explicitly attributable GC cost taken out: the pauses,
    sweeping and assists on the mutator thread and the background worker's CPU time (all
    measured in the recorded run, scaled to `time_s`).  Taken out of either cost it leaves
    the same figure: the background worker's time is in the CPU cost only, and taken out
    of it only.  Costs no collector reports (libgc's lazy sweeping in allocation, malloc's
    free) stay in: they are what LBO's lower bound cannot see, so LBO never undercounts."""
    c = result["counters"]
    run_wall = result["wall_s"]
    wall = run_wall if time_s is None else float(time_s)
    scale = wall / run_wall if run_wall > 0 else 1.0
    on_mutator = (c["stw_ns"] + c["sweep_ns"] + c["assist_ns"]) / 1e9 * scale
    background = c["background_cpu_ns"] / 1e9 * scale
    return wall, wall + background, max(wall - on_mutator, 0.0)


def lower_bound_overheads(costs):
    """LBO of each configuration of one workload: `costs` is {key: (wall, cpu, distilled)}
    over every collector and heap size (nogc included).  The minimum distilled cost (MDC)
    approximates the workload's cost under an ideal collector that costs nothing; each
    configuration's LBO is its cost / MDC - 1, for wall and for CPU time.  Returns
    (mdc_s, mdc_key, {key: (lbo_wall, lbo_cpu)}); mdc_s is None when there is no cost."""
    positive = {k: v for k, v in costs.items() if v[2] > 0}
    if not positive:
        return None, None, {}
    mdc_key = min(positive, key=lambda k: positive[k][2])
    mdc = positive[mdc_key][2]
    return mdc, mdc_key, {k: (wall / mdc - 1, cpu / mdc - 1) for k, (wall, cpu, _) in costs.items()}
