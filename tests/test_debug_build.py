"""The debug build (GCBENCH_DEBUG=1 pip install .): internal assertions and poisoned
freed objects.  The tests of what only a debug build detects skip in a release build;
scripts/sanitize.sh (and CI's AddressSanitizer pass) runs them in a debug build."""
import pytest

import gcbench
from gcbench_core import debugcheck
from gcbench_core.collectors import marksweep
from gcbench_core.heap import HeapError, ManagedHeap

debug_only = pytest.mark.skipif(not debugcheck.DEBUG_BUILD, reason="needs GCBENCH_DEBUG=1 build")


def test_build_flag_matches_buildinfo():
    # the C macro the kernels test and what setup.py recorded agree
    try:
        from gcbench_core import buildinfo
    except ImportError:
        pytest.skip("no buildinfo")
    assert debugcheck.DEBUG_BUILD == bool(buildinfo.DEBUG)


def heap_with_marksweep():
    heap = ManagedHeap(1 << 20, 100)
    marksweep.attach(heap, {})
    return heap


@debug_only
def test_storing_a_freed_object_fails_the_run():
    with pytest.raises(HeapError, match=r"poisoned \(freed\)") as info:
        debugcheck.use_after_free(heap_with_marksweep())
    assert info.value.kind == "heap corruption"
    assert "store of object" in str(info.value)


@debug_only
def test_moving_stress_catches_a_stale_pointer():
    # semispace with --stress 1 moves every object at every allocation and poisons the
    # old copies: a pointer kept in a C local across an allocation fails at its next use
    from gcbench_core.collectors import semispace
    heap = ManagedHeap(1 << 20, 100, stress_allocs=1)
    semispace.attach(heap, {})
    with pytest.raises(HeapError, match=r"poisoned \(freed\)") as info:
        debugcheck.stale_pointer_bug(heap)
    assert "store into object" in str(info.value)


@debug_only
def test_marking_a_free_slot_trips_a_debug_assertion():
    with pytest.raises(HeapError, match="debug assertion.*never allocated") as info:
        debugcheck.mark_free_slot(heap_with_marksweep())
    assert info.value.kind == "internal error"


@debug_only
@pytest.mark.parametrize("workload, params", [
    ("churn", {"live_objects": 2000, "ops": 30000, "mutate_fraction": 0.5}),
    ("binary-trees", {"long_lived_depth": 6, "array_len": 1000, "min_depth": 4, "max_depth": 8}),
    ("server", {"requests": 2000, "cache_objects": 200, "pool": True}),
])
def test_correct_runs_pass_every_debug_check(workload, params):
    # frequent collections poison many freed objects; a correct collector never lets the
    # mutator see one, and every assertion holds
    result = gcbench.run("marksweep", workload, params=params, heap="8M", stress=50, verify=True)
    assert result["cycles"] > 0
