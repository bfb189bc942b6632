"""A run's events as a Chrome trace (the JSON that Perfetto and chrome://tracing open).

`trace_events(result)` converts the result dictionary of `gcbench.run` into the
Trace Event Format (a JSON object with "traceEvents"; times in microseconds):

- thread "mutator" (tid 1): the run as one span, with every stop-the-world pause nested
  in it as a complete event ("ph": "X") named by its kind (stw-collect, mark-start,
  mark-termination, full-gc), exactly as long as the pause the kernel measured;
- thread "GC cycles" (tid 2): one span per cycle, from its start to its end, with the
  cycle's log (heap before/after, live, goal, mark_ns, sweep_ns, ...) as arguments;
- thread "GC phases" (tid 3): per cycle, marking ("mark" inside a single pause,
  "concurrent mark" when the cycle has several pauses, i.e. the mutator ran between
  them) from the cycle start for mark_ns, then "sweep" for sweep_ns.  The kernel logs
  these phases as durations, not timestamps: they are placed back to back from the
  cycle's start, and clipped so they never run into the next cycle;
- counters ("ph": "C") "heap in use" and "heap goal" in bytes, sampled at every cycle
  start and end (the kernel does not sample between cycles);
- the run's totals (assist_ns, sweep_ns, background_cpu_ns, ...) as arguments of the run
  span and in "otherData": the kernel keeps assists as a total, not as events.

The file is written through the io room's atomic writer; nothing here runs or measures.
"""
import json

from ..io.atomic import atomic_open

PID = 1
TID_MUTATOR, TID_CYCLES, TID_PHASES = 1, 2, 3


def _us(ns):
    """ns -> µs; exact for integers below 2**53 / 1000 ns (over a hundred days)."""
    return ns / 1000.0


def trace_events(result):
    """The Chrome trace of one run (a dict with "traceEvents"), from its result dict."""
    events = []
    name = f"gcbench: {result['collector']} on {result['workload']}"

    def meta(kind, tid, value, sort=None):
        events.append({"ph": "M", "pid": PID, "tid": tid, "name": kind, "args": {"name": value}})
        if sort is not None:
            events.append({"ph": "M", "pid": PID, "tid": tid, "name": "thread_sort_index",
                           "args": {"sort_index": sort}})

    meta("process_name", TID_MUTATOR, name)
    meta("thread_name", TID_MUTATOR, "mutator", 1)
    meta("thread_name", TID_CYCLES, "GC cycles", 2)
    meta("thread_name", TID_PHASES, "GC phases", 3)

    wall_ns = int(round(result["wall_s"] * 1e9))
    counters = result.get("counters") or {}
    totals = {k: counters[k] for k in ("stw_ns", "sweep_ns", "assist_ns", "background_mark_ns",
                                       "background_cpu_ns", "mutator_cpu_ns", "barrier_slow_calls",
                                       "barrier_shades") if k in counters}
    timed = []
    timed.append({"ph": "X", "pid": PID, "tid": TID_MUTATOR, "cat": "run",
                  "name": f"{result['workload']} (mutator)", "ts": 0.0, "dur": _us(wall_ns),
                  "args": {"seed": result.get("seed"), "params": result.get("params"), **totals}})

    cycles_of_pause = result.get("pause_cycles") or [None] * len(result["pauses_ns"])
    kinds = result.get("pause_kinds") or ["stw-collect"] * len(result["pauses_ns"])
    stopping = result.get("pause_stopping_ns") or [0] * len(result["pauses_ns"])
    pauses_in_cycle = {}
    for start, length, kind, cycle, stop in zip(result["pause_starts_ns"], result["pauses_ns"], kinds,
                                                cycles_of_pause, stopping):
        pauses_in_cycle[cycle] = pauses_in_cycle.get(cycle, 0) + 1
        timed.append({"ph": "X", "pid": PID, "tid": TID_MUTATOR, "cat": "gc,pause", "name": kind,
                      "ts": _us(start), "dur": _us(length),
                      "args": {"cycle": cycle, "duration_ns": length, "stopping_ns": stop}})
        if stop > 0:
            # the stopping part of the pause: the request until the last thread stopped
            timed.append({"ph": "X", "pid": PID, "tid": TID_MUTATOR, "cat": "gc,pause,stopping",
                          "name": "stopping (time to safepoint)", "ts": _us(start),
                          "dur": _us(min(stop, length)), "args": {"cycle": cycle, "stopping_ns": stop}})

    cycle_log = result.get("cycle_log") or []
    timed.append(_counter("heap in use", 0, 0))
    for i, c in enumerate(cycle_log, start=1):
        start, end = c["start_ns"], c["end_ns"]
        cycle_name = "GC cycle" if c.get("kind", "full") == "full" else f"GC cycle ({c['kind']})"
        timed.append({"ph": "X", "pid": PID, "tid": TID_CYCLES, "cat": "gc,cycle", "name": cycle_name,
                      "ts": _us(start), "dur": _us(max(end - start, 0)), "args": {"cycle": i, **c}})
        timed.append(_counter("heap in use", start, c["heap_before"]))
        timed.append(_counter("heap in use", end, c["heap_after"]))
        if c.get("goal_bytes", -1) >= 0:
            timed.append(_counter("heap goal", end, c["goal_bytes"]))
        # phases: back to back from the cycle start, never into the next cycle
        limit = cycle_log[i]["start_ns"] if i < len(cycle_log) else max(wall_ns, end)
        t = start
        concurrent = pauses_in_cycle.get(i, 0) > 1
        for phase, key in (("concurrent mark" if concurrent else "mark", "mark_ns"), ("sweep", "sweep_ns")):
            length = min(int(c.get(key) or 0), limit - t)
            if length > 0:
                timed.append({"ph": "X", "pid": PID, "tid": TID_PHASES, "cat": "gc,phase",
                              "name": phase, "ts": _us(t), "dur": _us(length),
                              "args": {"cycle": i, key: c.get(key)}})
                t += length
    final = counters.get("heap_in_use_bytes")
    if final is not None:
        timed.append(_counter("heap in use", wall_ns, final))
    # parents before children: by start time, then longest first
    timed.sort(key=lambda e: (e["ts"], -e.get("dur", 0.0)))
    events += timed
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "tool": f"gcbench {result.get('gcbench_version', '')}".strip(),
            "collector": result["collector"], "opts": json.dumps(result.get("opts") or {}),
            "workload": result["workload"], "params": json.dumps(result.get("params") or {}),
            "seed": str(result.get("seed")), "heap_bytes": str(result.get("heap_bytes")),
            "gogc": "off" if result.get("gogc") is None else str(result.get("gogc")),
            **{k: str(v) for k, v in totals.items()},
        },
    }


def _counter(name, t_ns, value):
    return {"ph": "C", "pid": PID, "tid": TID_MUTATOR, "name": name, "ts": _us(t_ns),
            "args": {"bytes": value}}


def write_trace(path, result, group=None):
    """Write the run's trace to `path` atomically (write a temporary file, then rename;
    with `group`, an atomic.AtomicGroup, when the group commits)."""
    trace = trace_events(result)
    with atomic_open(path, group=group) as f:
        json.dump(trace, f, separators=(",", ":"))
        f.write("\n")
    return path
