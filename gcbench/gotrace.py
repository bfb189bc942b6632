"""Go-compatible output: GODEBUG=gctrace=1 lines and runtime.MemStats-like totals."""
import numpy as np

MB = 1 << 20


def gctrace_lines(result):
    """One line per cycle, in the shape of Go's gctrace:

        gc N @T s P%: A+B+C ms clock, H0->H1->L MB, G MB goal, 1 P

    A, B, C are the first pause, the concurrent phase between the pauses, and the last
    pause of the cycle (for a single stop-the-world collection, A is the pause and B and
    C are 0); H0 is the heap in use at the start, H1 at the end of marking, L the marked
    live heap; P is the GC CPU fraction of the run so far.
    """
    pause_starts = np.asarray(result["pause_starts_ns"], dtype=np.int64)
    pause_lengths = np.asarray(result["pauses_ns"], dtype=np.int64)
    pause_cycles = np.asarray(result.get("pause_cycles", []), dtype=np.int64)
    gc_ns = 0
    lines = []
    for n, cycle in enumerate(result["cycle_log"], start=1):
        mine = np.nonzero(pause_cycles == n)[0] if pause_cycles.size else np.array([], dtype=int)
        first = pause_lengths[mine[0]] if mine.size else 0
        last = pause_lengths[mine[-1]] if mine.size > 1 else 0
        concurrent = 0
        if mine.size > 1:
            concurrent = pause_starts[mine[-1]] - (pause_starts[mine[0]] + first)
        gc_ns += int(pause_lengths[mine].sum()) if mine.size else 0
        elapsed = max(cycle["end_ns"], 1)
        percent = 100.0 * gc_ns / elapsed
        goal = cycle["goal_bytes"]
        goal_text = f"{goal / MB:.0f} MB goal" if goal >= 0 else "off goal"
        lines.append(
            f"gc {n} @{cycle['start_ns'] / 1e9:.3f}s {percent:.0f}%: "
            f"{first / 1e6:.3f}+{concurrent / 1e6:.3f}+{last / 1e6:.3f} ms clock, "
            f"{cycle['heap_before'] / MB:.0f}->{cycle['heap_after'] / MB:.0f}->{cycle['live_bytes'] / MB:.0f} MB, "
            f"{goal_text}, 1 P" + (" (forced)" if cycle.get("forced") else ""))
    return lines


def memstats(result):
    """runtime.MemStats-like totals (Go's names)."""
    pauses = [int(p) for p in result["pauses_ns"]]
    counters = result["counters"]
    # Go keeps PauseNs per cycle in a circular buffer of 256: the sum of a cycle's pauses
    per_cycle = {}
    for cycle, length in zip(result.get("pause_cycles", []), pauses):
        per_cycle[cycle] = per_cycle.get(cycle, 0) + length
    recent = [per_cycle[c] for c in sorted(per_cycle)][-256:]
    return {
        "NumGC": result["cycles"],
        "NumForcedGC": sum(1 for c in result["cycle_log"] if c.get("forced")),
        "PauseTotalNs": sum(pauses),
        "PauseNs": recent,
        "HeapAlloc": counters["heap_in_use_bytes"],
        "HeapInuse": counters["pages_in_use_bytes"],
        "NextGC": counters["heap_goal_bytes"] or 0,
        "TotalAlloc": result["alloc_bytes"],
        "Mallocs": result["alloc_count"],
        "Frees": result["free_count"],
        "GCCPUFraction": result["gc_cpu_fraction"],
    }


def format_memstats(stats):
    lines = []
    for key, value in stats.items():
        if key == "PauseNs":
            shown = " ".join(str(v) for v in value[-16:])
            more = f" (last 16 of {len(value)})" if len(value) > 16 else ""
            lines.append(f"{key:>14}: [{shown}]{more}")
        elif isinstance(value, float):
            lines.append(f"{key:>14}: {value:.6f}")
        else:
            lines.append(f"{key:>14}: {value}")
    return lines
