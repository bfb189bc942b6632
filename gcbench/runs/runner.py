"""One run: build a heap, attach a collector, run a workload natively, collect events.

`run(...)` validates its arguments into a RunConfig (run.config.make_config) and returns
the result dictionary that `gcbench run --json` writes; its keys are documented in
docs/results.md.  `run_config(config)` runs a RunConfig already built.  Python only
builds and reads: the workload runs entirely in the kernel with the GIL released.
Workload parameters of type "trace" are file names in the configuration; the workload
gets the loaded trace (io.traces) in their place, so the kernel never reads a file.
This module prints nothing and writes no file.
"""
import os
import platform
import sys
import sysconfig

from .. import __version__, metrics, registry
from ..errors import Interrupted, RunError, UsageError
from ..units import parse_size
from .config import DEFAULT_HEAP, make_config


def build_info():
    return {
        "gcbench_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "compiler": platform.python_compiler(),
        "cflags": " ".join(_core_cflags()),
    }


def _core_cflags():
    try:
        from gcbench_core import buildinfo
        return list(buildinfo.CFLAGS)
    except ImportError:
        return [sysconfig.get_config_var("OPT") or ""]


def run(collector, workload, params=None, opts=None, seed=1, heap=DEFAULT_HEAP, gogc=100,
        verify=False, stress=0, checkmark=False, on_heap=None, procs=None, memlimit=None):
    """Run `workload` under `collector` and return the result dictionary.

    Raises UsageError for bad input and RunError when the run fails (heap exhausted,
    heap corruption); Interrupted on Ctrl-C.
    """
    config = make_config(collector, workload, params=params, opts=opts, seed=seed, heap=heap,
                         gogc=gogc, verify=verify, stress=stress, checkmark=checkmark, procs=procs,
                         memlimit=memlimit)
    return run_config(config, on_heap=on_heap)


def workload_inputs(wentry, params):
    """The parameters the workload's run() takes: a "trace" parameter's file loaded."""
    from ..io.traces import load_trace
    inputs = dict(params)
    for name, spec in wentry.specs.items():
        if spec.get("type") == "trace" and inputs.get(name):
            inputs[name] = load_trace(inputs[name]).as_workload_input()
    return inputs


def run_config(config, on_heap=None):
    """Run a RunConfig; returns the result dictionary (see run)."""
    from gcbench_core.heap import HeapError, ManagedHeap, PAUSE_KIND_NAMES
    from gcbench_core.heap import CYCLE_KIND_NAMES

    centry = registry.get_collector(config.collector)
    wentry = registry.get_workload(config.workload)
    inputs = workload_inputs(wentry, config.params)
    try:
        managed = ManagedHeap(config.heap_bytes, config.gogc, verify=config.verify,
                              stress_allocs=int(config.stress or 0), checkmark=config.checkmark,
                              memlimit=int(config.memlimit or 0), procs=int(config.procs))
    except MemoryError:
        # the heap is mapped lazily, so this is the address-space limit (ulimit -v) or a
        # strict overcommit policy refusing the reservation, before anything was touched
        raise UsageError(f"cannot reserve a heap of {config.heap_bytes} bytes: the system "
                         "refused the mapping (address-space limit or overcommit policy); "
                         "choose a smaller --heap") from None
    centry.module.attach(managed, dict(config.opts))
    pretouch = pretouch_arena(managed, centry)
    if on_heap is not None:
        on_heap(managed)
    try:
        extra = wentry.module.run(managed, inputs, config.seed)
        if config.verify:
            managed.verify()
    except HeapError as exc:
        cls = Interrupted if exc.kind == "interrupted" else RunError
        message = str(exc)
        if exc.kind == "heap exhausted":
            message = heap_exhausted_message(message, config, centry.constraints)
        raise cls(exc.kind, message) from None
    except ValueError as exc:
        raise UsageError(f"{config.workload}: {exc}") from None
    result = collect_result(managed, config, extra, PAUSE_KIND_NAMES, CYCLE_KIND_NAMES)
    result["pretouch"] = pretouch
    return result


# Pretouching more than this (or than a quarter of the memory available) would cost more
# memory than a run needs; runs that use more of the arena pay page faults beyond it.
# GCBENCH_PRETOUCH=SIZE sets the limit (0: no pretouch, as the test suite runs).
PRETOUCH_LIMIT = 4 << 30


def pretouch_limit():
    text = os.environ.get("GCBENCH_PRETOUCH")
    if not text:
        return PRETOUCH_LIMIT
    return parse_size(text, "GCBENCH_PRETOUCH") if text != "0" else 0


def pretouch_arena(managed, centry):
    """Fault in the arena before the timed run (every arena collector, so that all are
    timed on equal memory terms); what the result says about it."""
    if not centry.constraints.uses_arena:
        return {"bytes": 0, "s": 0.0, "whole_arena": False,
                "note": "objects live outside the arena (the C library's or libgc's memory)"}
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        available = PRETOUCH_LIMIT * 4
    limit = min(pretouch_limit(), available // 4)
    if limit <= 0:
        return {"bytes": 0, "s": 0.0, "whole_arena": False, "note": "not pretouched (GCBENCH_PRETOUCH=0)"}
    touched, seconds = managed.pretouch(limit)
    return {"bytes": int(touched), "s": seconds, "whole_arena": touched >= managed.heap_bytes,
            "note": "arena pages faulted in before the timed run"}


def heap_exhausted_message(message, config, constraints):
    """The kernel's heap-exhausted message, made true for a collector that never collects
    (nogc: nothing was ever collected, every byte allocated is still in use) and ended with
    the way out: `gcbench minheap` finds the heap this workload needs."""
    if not constraints.honours_stress:       # never collects (nogc, malloc)
        message = message.replace("bytes live after a full collection",
                                  f"bytes in use ({config.collector} never collects, so "
                                  f"the heap must hold every byte the workload allocates)")
    flags = f"-c {config.collector} -w {config.workload}"
    return (f"{message}; give a larger --heap (now {config.heap_bytes} bytes), or find the "
            f"smallest that completes with: gcbench minheap {flags}"
            + (" (with the same --param values)" if config.params else ""))


def collect_result(managed, config, extra, kind_names, cycle_kind_names=("full", "minor", "major")):
    counters = managed.counters()
    pauses = managed.pauses()
    cycles = managed.cycles()
    start = counters["run_start_ns"]
    # verification runs on the mutator thread too, but is neither mutator nor GC work: the
    # run's wall time (and so every throughput figure) leaves it out; event times keep it
    wall_ns = counters["run_end_ns"] - start - counters["verify_ns"]
    # mutator threads of a multi-threaded workload (its result's `threads`): each has the
    # wall time, and each pause stops them all
    mutators = int(extra.get("threads", 1)) if isinstance(extra, dict) else 1
    gc_on_mutator_ns = counters["stw_ns"] * mutators + counters["sweep_ns"] + counters["assist_ns"]
    cycle_log = []
    for row in cycles:
        entry = {name: int(row[name]) for name in cycles.dtype.names}
        entry["start_ns"] -= start
        entry["end_ns"] -= start
        entry["forced"] = bool(entry["forced"])
        entry["kind"] = cycle_kind_names[entry["kind"]]
        cycle_log.append(entry)
    result = {
        **build_info(),
        **config.identity(),
        "cycles": int(counters["cycles"]),
        "pauses_ns": (pauses["end_ns"] - pauses["start_ns"]).tolist(),
        "pause_starts_ns": (pauses["start_ns"] - start).tolist(),
        "pause_kinds": [kind_names[k] for k in pauses["kind"]],
        "pause_cycles": pauses["cycle"].tolist(),
        # per pause, its time to safepoint: from the stop request until the last mutator
        # thread stopped (0 with one mutator thread; Go's /sched/pauses/stopping/gc)
        "pause_stopping_ns": pauses["stopping_ns"].tolist(),
        "wall_s": wall_ns / 1e9,
        "verify_s": counters["verify_ns"] / 1e9,
        "mutator_s": max(wall_ns * mutators - gc_on_mutator_ns, 0) / 1e9,
        "mutator_ops": counters["mutator_ops"],
        "alloc_count": counters["alloc_count"],
        "alloc_bytes": counters["alloc_bytes"],
        "free_count": counters["free_count"],
        "free_bytes": counters["free_bytes"],
        "peak_heap_bytes": counters["peak_heap_bytes"],
        "peak_live_bytes": counters["peak_live_bytes"],
        "gc_cpu_fraction": metrics.gc_cpu_fraction(counters, mutators),
        "verified": bool(config.verify),
        "cycle_log": cycle_log,
        "counters": counters,
    }
    if isinstance(extra, dict):
        extra = dict(extra)
        # a workload returns raw distributions (e.g. request latencies); their percentiles
        # are computed here, by the one definition in metrics
        for key, values in extra.pop("distributions", {}).items():
            result[key] = metrics.percentiles(values)
        result.update(extra)
    result["metrics"] = metrics.runtime_metrics(result)
    result["summary"] = metrics.summarize(result)
    return result
