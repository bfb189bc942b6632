"""The malloc and boehm baselines: same workloads, same allocation sequence."""
import pytest

import gcbench
from gcbench import registry
from conftest import SMALL_TREES

BOEHM = registry.collectors()["boehm"]


def tree_nodes(depth):
    return (1 << (depth + 1)) - 1


def test_malloc_frees_what_the_workload_drops():
    r = gcbench.run("malloc", "binary-trees", params=SMALL_TREES)
    ms = gcbench.run("marksweep", "binary-trees", params=SMALL_TREES)
    assert r["alloc_count"] == ms["alloc_count"]
    assert r["cycles"] == 0 and r["pauses_ns"] == []
    # what is left: the long-lived tree and the array
    assert r["alloc_count"] - r["free_count"] == tree_nodes(SMALL_TREES["long_lived_depth"]) + 1
    assert r["counters"]["heap_in_use_bytes"] == r["alloc_bytes"] - r["free_bytes"]


def test_malloc_churn_needs_unshared_members(cli):
    r = gcbench.run("malloc", "churn", params={"live_objects": 1000, "ops": 20000, "mutate_fraction": 0})
    assert r["alloc_count"] - r["free_count"] == 1000 + 1
    proc = cli("run", "-c", "malloc", "-w", "churn", check=2)
    assert "mutate_fraction" in proc.stderr


def test_malloc_respects_the_heap_size(cli):
    proc = cli("run", "-c", "malloc", "-w", "binary-trees", "--heap", "1M", check=1)
    assert "heap exhausted" in proc.stderr


def test_verify_refused_outside_the_arena(cli):
    proc = cli("run", "-c", "malloc", "-w", "binary-trees", "--verify", check=2)
    assert "--verify" in proc.stderr


def test_list_says_whether_boehm_is_available(cli):
    out = cli("list", check=0).stdout
    line = next(l for l in out.splitlines() if l.strip().startswith("boehm"))
    if BOEHM.available:
        assert "unavailable" not in line
    else:
        assert "libgc-dev" in line


@pytest.mark.skipif(not BOEHM.available, reason="libgc not installed (apt-get install libgc-dev)")
def test_boehm_runs_and_reports_pauses(cli):
    r = gcbench.run("boehm", "binary-trees", params=dict(SMALL_TREES, max_depth=12))
    assert r["cycles"] >= 1
    assert len(r["pauses_ns"]) == r["cycles"]
    assert all(p > 0 for p in r["pauses_ns"])
    assert r["pause_cycles"] == list(range(1, r["cycles"] + 1))
    proc = cli("run", "-c", "boehm", "-w", "binary-trees", "--param", "max_depth=12", check=0)
    assert "pauses" in proc.stdout


@pytest.mark.skipif(not BOEHM.available, reason="libgc not installed (apt-get install libgc-dev)")
def test_boehm_cycle_log_counts_what_libgc_marked():
    params = dict(SMALL_TREES, max_depth=12)
    r = gcbench.run("boehm", "binary-trees", params=params)
    log = r["cycle_log"]
    assert all(c["live_objects"] > 0 and 0 < c["live_bytes"] <= c["heap_after"] for c in log)
    # after the stretch tree, every collection keeps at least the long-lived tree and array
    # (libgc is conservative: it may keep more, never less)
    assert log[-1]["live_objects"] >= tree_nodes(params["long_lived_depth"]) + 1
    assert r["peak_live_bytes"] == max(c["live_bytes"] for c in log)


# Small settings of every workload malloc accepts (the defaults take minutes under --verify).
MALLOC_WORKLOADS = {
    "binary-trees": {"long_lived_depth": 10, "array_len": 10000, "min_depth": 4, "max_depth": 12},
    "churn": {"live_objects": 5000, "ops": 100000, "mutate_fraction": 0},
    "server": {"requests": 20000},
    "queue": {"lifetime": 2000, "ops": 100000},
    "lru-cache": {"capacity": 2000, "keys": 20000, "requests": 100000},
    "growing-slices": {"slices": 2000, "live_slices": 50},
    "leak": {"requests": 50000, "leak_fraction": 0.01},
    "escape": {"calls": 50000, "retained": 1000},
}


@pytest.mark.parametrize("workload", sorted(MALLOC_WORKLOADS))
def test_malloc_holds_no_more_than_the_live_set(workload):
    """Every workload says when its objects die, so malloc's peak heap is the live set's
    (marksweep's peak live bytes, measured at its cycle ends), not every allocation."""
    params = MALLOC_WORKLOADS[workload]
    r = gcbench.run("malloc", workload, params=params, heap="256M")
    ms = gcbench.run("marksweep", workload, params=params, heap="256M", gogc=25)
    assert r["alloc_count"] == ms["alloc_count"]
    assert ms["cycles"] > 0
    assert r["free_count"] > 0
    assert r["peak_heap_bytes"] <= 1.5 * ms["peak_live_bytes"], (r["peak_heap_bytes"], ms["peak_live_bytes"])


@pytest.mark.parametrize("workload, reason", [
    ("graph-mutate", "rewrites pointers at random"),
    ("python-heap", "cycles and shared objects"),
])
def test_malloc_refuses_what_cannot_say_when_objects_die(cli, workload, reason):
    proc = cli("run", "-c", "malloc", "-w", workload, check=2)
    assert reason in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
