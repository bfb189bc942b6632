"""Every figure gcbench reports, computed in one place from a run's raw events.

Inputs are the result dictionary of `gcbench.run` (see runner.py); each function
states its definition, which follows DESIGN.md.
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
    starts at a pause start or ends at a pause end, so only those are tried.
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


def mmu_curve(result, windows_ns=None):
    """[(window_ns, mmu, worst_start_ns)] over log-spaced windows from 1 ms to 1 s (and
    the run's length when shorter)."""
    if windows_ns is None:
        windows_ns = np.unique(np.round(np.logspace(6, 9, 16)).astype(np.int64))
    return [(int(w), *mmu(result, w)) for w in windows_ns]


def gc_cpu_fraction(counters):
    """GC CPU time over all CPU time of the run: pauses, sweeping and assists on the
    mutator thread plus the background mark worker's CPU, over the mutator thread's
    CPU plus the worker's."""
    gc = counters["stw_ns"] + counters["sweep_ns"] + counters["assist_ns"] + counters["background_cpu_ns"]
    total = counters["mutator_cpu_ns"] + counters["background_cpu_ns"]
    return gc / total if total > 0 else 0.0


def summarize(result):
    """The headline figures of one run."""
    pauses = np.asarray(result["pauses_ns"], dtype=np.int64)
    wall = result["wall_s"]
    mutator = result["mutator_s"]
    cycles = result["cycles"]
    summary = {
        "pause_ns": percentiles(pauses),
        "pause_count": int(pauses.size),
        "pauses_per_cycle": (pauses.size / cycles) if cycles else None,
        "total_stw_ns": int(pauses.sum()),
        "ops_per_s": result["mutator_ops"] / wall if wall > 0 else None,
        "alloc_bytes_per_s": result["alloc_bytes"] / wall if wall > 0 else None,
        "allocs_per_mutator_s": result["alloc_count"] / mutator if mutator > 0 else None,
        "gc_cpu_fraction": result["gc_cpu_fraction"],
        "peak_heap_bytes": result["peak_heap_bytes"],
        "peak_live_bytes": result["peak_live_bytes"],
        "heap_overhead": (result["peak_heap_bytes"] / result["peak_live_bytes"]) if result["peak_live_bytes"] else None,
    }
    if wall > 0:
        summary["mmu_10ms"] = mmu(result, 10_000_000)[0] if wall * 1e9 > 10_000_000 else None
    return summary
