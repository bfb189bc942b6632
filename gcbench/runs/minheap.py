"""The minimum heap: the smallest arena in which a workload completes under a collector.

Found by bisection, as MMTk's tooling does (running-ng's minheap): find a size that
completes and one that runs out of memory, then halve the gap until it is one page.
Every probe is a full run of the workload in a forked child process (a collector may
keep state for the whole process, as libgc does).  Only "heap exhausted" counts as not
completing; any other failure (heap corruption, a crash) is raised, as is a UsageError
(the collector cannot run this workload at all).

Heap exhaustion is close to monotonic in the arena size but not exactly (a collection's
timing shifts with the arena), so the answer is "completes at N, fails at N - 1 page",
both observed.  This module prints nothing (on_probe lets the caller report probes).
"""
import json
import os
import signal
import time

from .children import die_with_parent
from ..errors import RunError, UsageError
from .config import FIRST_PROBE_HEAP, MAX_HEAP_FRACTION_OF_RAM, MIN_HEAP_BYTES, physical_memory
from .runner import run_config

PAGE_BYTES = 8192               # heap.pxd PAGE_SIZE: arenas are whole pages


def _pages_up(nbytes):
    return -(-int(nbytes) // PAGE_BYTES) * PAGE_BYTES


def _largest_heap():
    ram = physical_memory()
    return int(ram * MAX_HEAP_FRACTION_OF_RAM) // PAGE_BYTES * PAGE_BYTES if ram else 1 << 36


def _probe_in_child(config):
    """Run `config` in a forked child and report (completed, figures).

    Every probe gets a fresh process: a collector may keep state for the whole process
    (libgc has one heap per process, and a heap that grew for one probe would make the
    next one pass), and a crash must not take the search down.  fork() is cheap here:
    the child shares the loaded modules and runs one workload."""
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:                                   # the child: run, report, exit
        die_with_parent(parent)                    # a killed minheap leaves no probe running
        os.close(read_fd)
        # quiet: a probe that runs out of memory is expected (libgc warns on stderr)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            result = run_config(config)
            payload = {"completed": True, **{k: result[k] for k in _FIGURES}}
        except RunError as exc:
            payload = {"completed": False, "kind": exc.kind, "error": str(exc)}
        except UsageError as exc:
            payload = {"completed": False, "kind": "usage", "error": str(exc)}
        except BaseException as exc:               # noqa: BLE001 - reported to the parent
            payload = {"completed": False, "kind": "crash", "error": f"{type(exc).__name__}: {exc}"}
        try:
            with os.fdopen(write_fd, "w") as f:
                json.dump(payload, f)
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:
            text = f.read()
        _, status = os.waitpid(pid, 0)
    except BaseException:
        # interrupted: the child must not run on
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        raise
    if not text:
        code = os.waitstatus_to_exitcode(status)
        raise RunError("crash", f"the run crashed ({'signal ' + str(-code) if code < 0 else 'exit code ' + str(code)})")
    payload = json.loads(text)
    if payload["completed"]:
        return True, payload
    if payload["kind"] == "usage":
        raise UsageError(payload["error"])
    if payload["kind"] != "heap exhausted":
        raise RunError(payload["kind"], payload["error"])
    return False, None


_FIGURES = ("cycles", "peak_live_bytes", "peak_heap_bytes")


class Search:
    """Probes and their outcomes, kept so the caller can report them."""

    def __init__(self, config, on_probe=None):
        self.config = config
        self.on_probe = on_probe
        self.probes = []     # [(heap_bytes, completed, seconds)]

    def completes(self, heap_bytes):
        config = self.config.with_heap(heap_bytes)
        start = time.perf_counter()
        completed, figures = _probe_in_child(config)
        seconds = time.perf_counter() - start
        self.probes.append((int(heap_bytes), completed, seconds))
        if self.on_probe is not None:
            self.on_probe(int(heap_bytes), completed, seconds)
        return completed, figures

    def largest_failing(self, below):
        failing = [b for b, ok, _ in self.probes if not ok and b < below]
        return max(failing) if failing else None


def find_min_heap(config, on_probe=None):
    """Smallest page-multiple heap in which `config` (a RunConfig; its heap_bytes is the
    first probe) completes.  Returns (bytes, Search)."""
    search = Search(config, on_probe)
    largest = _largest_heap()

    # an upper bound that completes: grow from the first probe (the configuration's heap)
    hi = _pages_up(config.heap_bytes or FIRST_PROBE_HEAP)
    while True:
        ok, result = search.completes(hi)
        if ok:
            break
        if hi >= largest:
            raise UsageError(f"{config.workload} does not complete under {config.collector} "
                             f"in any heap up to {hi} bytes (this machine's limit)")
        hi = min(hi * 4, largest)

    # a lower bound that fails: the live data must fit, so start just below the peak
    # live heap the completed run measured (below its peak heap when nothing was ever
    # collected: then every byte allocated had to fit), and halve while it completes
    need = result["peak_heap_bytes"] if result["cycles"] == 0 else result["peak_live_bytes"]
    lo = max(MIN_HEAP_BYTES, _pages_up(need) - PAGE_BYTES)
    lo = min(lo, hi - PAGE_BYTES)
    while lo >= MIN_HEAP_BYTES:
        ok, _ = search.completes(lo)
        if not ok:
            break
        hi = lo
        if lo == MIN_HEAP_BYTES:
            return hi, search     # completes in the smallest heap the runner allows
        lo = max(MIN_HEAP_BYTES, (lo // 2) // PAGE_BYTES * PAGE_BYTES)

    # invariant: completes at hi, fails at lo.  Without collections the minimum is just
    # above the peak heap, so gallop up from lo first (a few probes instead of a
    # bisection across the whole range; each probe touches all that memory)
    if result["cycles"] == 0:
        step = PAGE_BYTES
        while lo + step < hi:
            ok, _ = search.completes(lo + step)
            if ok:
                hi = lo + step
                break
            lo += step
            step *= 2
    while hi - lo > PAGE_BYTES:
        mid = (lo + hi) // 2 // PAGE_BYTES * PAGE_BYTES
        ok, _ = search.completes(mid)
        if ok:
            hi = mid
        else:
            lo = mid
    return hi, search
