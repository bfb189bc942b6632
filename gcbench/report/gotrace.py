"""Go-compatible output: GODEBUG=gctrace=1 lines and runtime.MemStats-like totals.

Formats a run's result (cycle log, pauses, counters) as Go prints them, so that runs can
be read beside Go's own output.  It computes no figure the result lacks beyond Go's
layout of it, and reads or writes no file.
"""
import numpy as np

MB = 1 << 20


def gctrace_lines(result):
    """One line per cycle, in the shape of Go's gctrace:

        gc N @T s P%: A+B+C ms clock, H0->H1->L MB, G MB goal, N P

    A, B, C are the first pause, the concurrent phase between the pauses, and the last
    pause of the cycle (for a single stop-the-world collection, A is the pause and B and
    C are 0); H0 is the heap in use at the start, H1 at the end of marking, L the marked
    live heap; G the goal this cycle aimed at (a minor collection has none: "Y MB young,
    S% survived" instead); N P is GOMAXPROCS (--procs).  With several mutator threads the
    line ends with "stopping A+C ms": the time to safepoint of the first and last pause
    (request until the last thread stopped; inside A and C).  P is GC CPU
    since the start of the run in Go's sense: assists, dedicated and fractional marking
    and pauses x N, over wall time x N (idle marking and sweeping left out, as Go does).
    """
    pause_starts = np.asarray(result["pause_starts_ns"], dtype=np.int64)
    pause_lengths = np.asarray(result["pauses_ns"], dtype=np.int64)
    pause_cycles = np.asarray(result.get("pause_cycles", []), dtype=np.int64)
    stopping = np.asarray(result.get("pause_stopping_ns") or [0] * len(pause_lengths), dtype=np.int64)
    threaded = bool(stopping.size and stopping.max() > 0)
    gc_ns = 0
    procs = int(result.get("procs") or result.get("counters", {}).get("procs") or 1)
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
        if "gc_cpu_ns" in cycle:
            percent = 100.0 * cycle["gc_cpu_ns"] / (elapsed * procs)
        else:                            # a result written before the kernel kept GC CPU
            percent = 100.0 * gc_ns / elapsed
        goal_text = _goal_text(cycle)
        lines.append(
            f"gc {n} @{cycle['start_ns'] / 1e9:.3f}s {percent:.0f}%: "
            f"{first / 1e6:.3f}+{concurrent / 1e6:.3f}+{last / 1e6:.3f} ms clock, "
            f"{cycle['heap_before'] / MB:.0f}->{cycle['heap_after'] / MB:.0f}->{cycle['live_bytes'] / MB:.0f} MB, "
            f"{goal_text}, {procs} P" + (" (forced)" if cycle.get("forced") else "")
            + _generation_note(result, mine)
            + (f" ({cycle['kind']})" if cycle.get("kind", "full") != "full" else "")
            + _markers_note(cycle)
            + (_stopping_note(stopping, mine) if threaded else ""))
    return lines


def _markers_note(cycle):
    """" (markers 2: 1.234 ms cpu / 0.700 ms mark, 48% by the others)" for a cycle marked by
    more than one marker (--opt markers=N): the markers' summed thread CPU over the mark
    phase's wall time (CPU above wall: they overlapped) and the share of the marked objects
    that markers other than the first marked; "" for one marker, so that the line is Go's."""
    markers = cycle.get("markers", 0)
    if markers <= 1:
        return ""
    share = 100.0 * cycle.get("mark_helper_objects", 0) / max(cycle.get("live_objects", 0), 1)
    return (f" (markers {markers}: {cycle.get('mark_cpu_ns', 0) / 1e6:.3f} ms cpu / "
            f"{cycle.get('mark_ns', 0) / 1e6:.3f} ms mark, {share:.0f}% by the others)")


def _stopping_note(stopping, mine):
    """", stopping A+C ms": the time to safepoint of the cycle's first and last pause."""
    first = stopping[mine[0]] if mine.size else 0
    last = stopping[mine[-1]] if mine.size > 1 else 0
    return f", stopping {first / 1e6:.3f}+{last / 1e6:.3f} ms"


def _goal_text(cycle):
    """"G MB goal" (GOGC off: "off goal"); a minor collection aims at no GOGC goal (it
    runs when the nursery is full), so its line shows the young bytes it collected and
    the share of them that survived instead."""
    if cycle.get("kind") == "minor":
        young = cycle.get("young_bytes", 0)
        survived = 100.0 * cycle.get("survived_bytes", 0) / young if young > 0 else 0.0
        return f"{young / MB:.0f} MB young, {survived:.1f}% survived"
    goal = cycle.get("cycle_goal_bytes", cycle["goal_bytes"])
    return f"{goal / MB:.0f} MB goal" if goal >= 0 else "off goal"


GENERATION_KINDS = ("gen0", "gen1", "gen2", "young", "increment")


def _generation_note(result, mine):
    """" gen1" for a cycle-detector collection (refcount): its pause's kind, so that the
    lines tell the generations apart; "" for every other collector's cycles."""
    kinds = result.get("pause_kinds") or []
    if mine.size and mine[0] < len(kinds) and kinds[mine[0]] in GENERATION_KINDS:
        return f" {kinds[mine[0]]}"
    return ""


PAUSE_HISTORY = 256     # Go's len(MemStats.PauseNs)


def memstats(result):
    """runtime.MemStats-like totals (Go's names).

    PauseNs is Go's circular buffer: 256 entries, the stop-the-world time of cycle N
    (the sum of its pauses) at index (N - 1) % 256, so the most recent cycle is at
    (NumGC + 255) % 256 and entries of cycles not yet run are 0.  PauseEnd likewise
    holds when each cycle's last pause ended (ns from the start of the run, where Go
    uses the Unix epoch)."""
    pauses = [int(p) for p in result["pauses_ns"]]
    starts = [int(s) for s in result.get("pause_starts_ns", [0] * len(pauses))]
    counters = result["counters"]
    num_gc = result["cycles"]
    pause_ns = [0] * PAUSE_HISTORY
    pause_end = [0] * PAUSE_HISTORY
    for cycle, length, start in zip(result.get("pause_cycles", []), pauses, starts):
        if 1 <= cycle <= num_gc and cycle > num_gc - PAUSE_HISTORY:
            slot = (cycle - 1) % PAUSE_HISTORY
            pause_ns[slot] += length
            pause_end[slot] = max(pause_end[slot], start + length)
    return {
        "NumGC": num_gc,
        "NumForcedGC": sum(1 for c in result["cycle_log"] if c.get("forced")),
        "PauseTotalNs": sum(pauses),
        "PauseNs": pause_ns,
        "PauseEnd": pause_end,
        "HeapAlloc": counters["heap_in_use_bytes"],
        "HeapInuse": counters["pages_in_use_bytes"],
        "NextGC": counters["heap_goal_bytes"] or 0,
        "TotalAlloc": result["alloc_bytes"],
        "Mallocs": result["alloc_count"],
        "Frees": result["free_count"],
        "GCCPUFraction": result["gc_cpu_fraction"],
    }


def recent(circular, num_gc, count=16):
    """The last `count` entries of a Go circular pause buffer, oldest first."""
    n = min(count, num_gc, len(circular))
    return [circular[(num_gc - n + i) % len(circular)] for i in range(n)]


def format_memstats(stats):
    lines = []
    num_gc = stats["NumGC"]
    for key, value in stats.items():
        if key in ("PauseNs", "PauseEnd"):
            shown = recent(value, num_gc)
            kept = min(num_gc, len(value))
            more = f" (last {len(shown)} of {kept} kept, oldest first)" if kept > len(shown) else ""
            lines.append(f"{key:>14}: [{' '.join(map(str, shown))}]{more}")
        elif isinstance(value, float):
            lines.append(f"{key:>14}: {value:.6f}")
        else:
            lines.append(f"{key:>14}: {value}")
    return lines


def format_runtime_metrics(metrics):
    """The result's runtime/metrics values (runner: metrics.runtime_metrics), one per line;
    the pause histogram as its non-empty buckets."""
    lines = []
    for name, value in metrics.items():
        if isinstance(value, dict):
            edges, counts = value["buckets"], value["counts"]
            shown = [f"[{edges[i] * 1e6:g}us, {edges[i + 1] * 1e6:g}us): {n}"
                     for i, n in enumerate(counts) if n]
            lines.append(f"  {name}: " + (", ".join(shown) if shown else "empty"))
        elif isinstance(value, float):
            lines.append(f"  {name}: {value:.6f}")
        else:
            lines.append(f"  {name}: {value}")
    return lines
