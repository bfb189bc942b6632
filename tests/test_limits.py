"""Limits: the heap can be as large as the machine allows (an 8 GiB heap here).

The quick tests (always on) map an 8 GiB heap and run in it: the arena and its side
tables are mapped lazily (MAP_NORESERVE), so an unused heap costs no memory.  The slow
test fills that heap with the largest live set that fits and collects it; it needs about
8 GiB of free memory and a minute, so it runs only with GCBENCH_LIMITS=1:

    GCBENCH_LIMITS=1 pytest -q tests/test_limits.py

(README, "Limits", has the figures measured on this machine.)
"""
import os
import resource

import pytest

import gcbench
from gcbench.runs.config import physical_memory as _physical_memory
from gcbench_core.heap import ManagedHeap

GIB = 1 << 30
BIG_HEAP = 8 * GIB
needs_ram = pytest.mark.skipif((_physical_memory() or 0) < BIG_HEAP / 0.9 + GIB,
                               reason="machine has too little memory for an 8 GiB heap")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@needs_ram
def test_an_8gib_heap_maps_lazily():
    before = rss_bytes()
    heap = ManagedHeap(BIG_HEAP, 100)
    assert heap.heap_bytes == BIG_HEAP
    # page map, span table and bitmaps of 8 GiB are ~200 MiB if touched; none is yet
    assert rss_bytes() - before < 64 << 20
    del heap


@needs_ram
def test_a_run_in_an_8gib_heap():
    result = gcbench.run("marksweep", "churn", params={"live_objects": 20000, "ops": 200000},
                         heap="8G", verify=True)
    assert result["heap_bytes"] == BIG_HEAP and result["verified"]


def test_heaps_beyond_the_machine_are_refused_before_mapping():
    from gcbench.errors import UsageError
    ram = _physical_memory()
    with pytest.raises(UsageError, match="exceeds this machine's memory"):
        gcbench.run("marksweep", "churn", heap=str(ram * 2))
    with pytest.raises(ValueError, match="too large"):
        ManagedHeap(1 << 50, 100)


# The largest live set found by hand to fit in 8 GiB (README, "Limits"): churn members of
# 64 bytes (48-byte payload, no slots) plus 8 bytes each in the ring.
FILL_LIVE_OBJECTS = int(os.environ.get("GCBENCH_LIMITS_LIVE", 118_000_000))


@needs_ram
@pytest.mark.skipif(not os.environ.get("GCBENCH_LIMITS"), reason="slow: set GCBENCH_LIMITS=1")
def test_fill_an_8gib_heap():
    params = {"live_objects": FILL_LIVE_OBJECTS, "ops": 3_000_000, "mutate_fraction": 0,
              "min_payload": 48, "max_payload": 48, "max_slots": 0}
    result = gcbench.run("marksweep", "churn", params=params, heap="8G", gogc="off")
    live = result["peak_live_bytes"]
    print(f"\nlive set {live / GIB:.2f} GiB ({FILL_LIVE_OBJECTS} objects) in an 8 GiB heap: "
          f"{result['cycles']} collections, max pause {max(result['pauses_ns']) / 1e9:.2f} s, "
          f"wall {result['wall_s']:.1f} s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20):.2f} GiB")
    assert result["cycles"] >= 1
    assert live > 0.85 * BIG_HEAP


def test_a_heap_the_system_refuses_to_map_is_a_usage_error(tmp_path):
    # under an address-space limit (ulimit -v) the reservation itself fails: one line,
    # exit code 2, and no crash while tearing down the half-built heap
    import subprocess
    import sys

    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    proc = subprocess.run([sys.executable, "-m", "gcbench", "run", "-c", "marksweep", "-w", "churn",
                           "--heap", "4G"], capture_output=True, text=True, timeout=60,
                          cwd=str(tmp_path), preexec_fn=limit_address_space)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "cannot reserve a heap" in proc.stderr
