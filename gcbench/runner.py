"""One run: build a heap, attach a collector, run a workload natively, collect events.

`run(...)` returns the result dictionary that `gcbench run --json` writes; its keys are
documented in docs/results.md.  Python only validates, builds and reads: the workload
runs entirely in the kernel with the GIL released.
"""
import platform
import sys
import sysconfig

from . import __version__, metrics, registry
from .errors import Interrupted, RunError, UsageError
from .units import parse_gogc, parse_size

DEFAULT_HEAP = "256M"
# Refuse heaps the machine cannot back, before mapping anything.
_MAX_HEAP_FRACTION_OF_RAM = 0.9


def _physical_memory():
    try:
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_heap_size(heap_bytes):
    ram = _physical_memory()
    if ram and heap_bytes > ram * _MAX_HEAP_FRACTION_OF_RAM:
        raise UsageError(f"heap size {heap_bytes} bytes exceeds this machine's memory "
                         f"({ram} bytes); choose a smaller --heap")
    if heap_bytes < 64 * 1024:
        raise UsageError(f"heap size {heap_bytes} bytes is too small (at least 64K)")


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


def prepare(collector, workload, params=None, opts=None, seed=1, heap=DEFAULT_HEAP, gogc=100):
    """Validate everything a run needs; returns the normalised configuration."""
    centry = registry.get_collector(collector)
    wentry = registry.get_workload(workload)
    if seed is None:            # no --seed given
        seed = 1
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            seed = int(str(seed))
        except ValueError:
            raise UsageError(f"malformed seed {seed!r}: expected a non-negative integer") from None
    if seed < 0 or seed >= 1 << 64:
        raise UsageError(f"seed must be in [0, 2**64), got {seed}")
    heap_bytes = parse_size(heap, "heap size")
    check_heap_size(heap_bytes)
    return {
        "collector": centry.name,
        "opts": registry.resolve(centry, opts, "option"),
        "workload": wentry.name,
        "params": registry.resolve(wentry, params, "parameter"),
        "seed": seed,
        "heap_bytes": heap_bytes,
        "gogc": parse_gogc(gogc),
    }


def run(collector, workload, params=None, opts=None, seed=1, heap=DEFAULT_HEAP, gogc=100,
        verify=False, stress=0, checkmark=False, on_heap=None):
    """Run `workload` under `collector` and return the result dictionary.

    Raises UsageError for bad input and RunError when the run fails (heap exhausted,
    heap corruption); Interrupted on Ctrl-C.
    """
    config = prepare(collector, workload, params, opts, seed, heap, gogc)
    stress = parse_stress(stress)
    return run_prepared(config, verify=verify, stress=stress, checkmark=checkmark, on_heap=on_heap)


def parse_stress(value):
    """--stress N: a non-negative number of allocations between forced collections (0: off)."""
    if value is None or value is False:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise UsageError(f"malformed --stress {value!r}: expected a non-negative integer "
                             "(allocations between forced collections; 0 is off)") from None
    if value < 0 or value >= 1 << 62:
        raise UsageError(f"--stress must be in [0, 2**62), got {value}")
    return value


def run_prepared(config, verify=False, stress=0, checkmark=False, on_heap=None):
    from gcbench_core.heap import HeapError, ManagedHeap, PAUSE_KIND_NAMES

    centry = registry.get_collector(config["collector"])
    wentry = registry.get_workload(config["workload"])
    if verify and not centry.constraints.supports_verify:
        raise UsageError(f"--verify checks the arena heap; collector {centry.name!r} allocates outside it")
    try:
        managed = ManagedHeap(config["heap_bytes"], config["gogc"], verify=verify,
                              stress_allocs=int(stress or 0), checkmark=checkmark)
    except MemoryError:
        # the heap is mapped lazily, so this is the address-space limit (ulimit -v) or a
        # strict overcommit policy refusing the reservation, before anything was touched
        raise UsageError(f"cannot reserve a heap of {config['heap_bytes']} bytes: the system "
                         "refused the mapping (address-space limit or overcommit policy); "
                         "choose a smaller --heap") from None
    centry.module.attach(managed, dict(config["opts"]))
    if on_heap is not None:
        on_heap(managed)
    try:
        extra = wentry.module.run(managed, dict(config["params"]), config["seed"])
        if verify:
            managed.verify()
    except HeapError as exc:
        cls = Interrupted if exc.kind == "interrupted" else RunError
        raise cls(exc.kind, str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"{config['workload']}: {exc}") from None
    return collect_result(managed, config, verify, extra, PAUSE_KIND_NAMES)


def collect_result(managed, config, verify, extra, kind_names):
    counters = managed.counters()
    pauses = managed.pauses()
    cycles = managed.cycles()
    start = counters["run_start_ns"]
    # verification runs on the mutator thread too, but is neither mutator nor GC work: the
    # run's wall time (and so every throughput figure) leaves it out; event times keep it
    wall_ns = counters["run_end_ns"] - start - counters["verify_ns"]
    gc_on_mutator_ns = counters["stw_ns"] + counters["sweep_ns"] + counters["assist_ns"]
    cycle_log = []
    for row in cycles:
        entry = {name: int(row[name]) for name in cycles.dtype.names}
        entry["start_ns"] -= start
        entry["end_ns"] -= start
        entry["forced"] = bool(entry["forced"])
        cycle_log.append(entry)
    result = {
        **build_info(),
        **config,
        "cycles": int(counters["cycles"]),
        "pauses_ns": (pauses["end_ns"] - pauses["start_ns"]).tolist(),
        "pause_starts_ns": (pauses["start_ns"] - start).tolist(),
        "pause_kinds": [kind_names[k] for k in pauses["kind"]],
        "pause_cycles": pauses["cycle"].tolist(),
        "wall_s": wall_ns / 1e9,
        "verify_s": counters["verify_ns"] / 1e9,
        "mutator_s": max(wall_ns - gc_on_mutator_ns, 0) / 1e9,
        "mutator_ops": counters["mutator_ops"],
        "alloc_count": counters["alloc_count"],
        "alloc_bytes": counters["alloc_bytes"],
        "free_count": counters["free_count"],
        "free_bytes": counters["free_bytes"],
        "peak_heap_bytes": counters["peak_heap_bytes"],
        "peak_live_bytes": counters["peak_live_bytes"],
        "gc_cpu_fraction": metrics.gc_cpu_fraction(counters),
        "verified": bool(verify),
        "cycle_log": cycle_log,
        "counters": counters,
    }
    if isinstance(extra, dict):
        result.update(extra)
    result["summary"] = metrics.summarize(result)
    return result
