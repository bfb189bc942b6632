"""The core engine: heap, marksweep, nogc, verifier, determinism, errors."""
import json

import pytest

import gcbench
from gcbench.errors import RunError
from conftest import SMALL_CHURN, SMALL_TREES, params_args, run_cli


def test_marksweep_binary_trees_default_verified(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("run", "--collector", "marksweep", "--workload", "binary-trees", "--verify",
                   "--json", out, check=0)
    assert "cycles" in proc.stdout
    r = json.loads(out.read_text())
    for key in ("collector", "workload", "params", "seed", "heap_bytes", "gogc", "cycles", "pauses_ns",
                "wall_s", "mutator_ops", "alloc_count", "alloc_bytes", "peak_heap_bytes",
                "gc_cpu_fraction", "verified", "cycle_log"):
        assert key in r, key
    assert r["cycles"] >= 1
    assert len(r["pauses_ns"]) == r["cycles"]           # one pause per cycle
    assert all(isinstance(p, int) and p > 0 for p in r["pauses_ns"])
    assert r["verified"] is True
    assert r["counters"]["verified_cycles"] == r["cycles"]
    # GCBench's allocation count: stretch tree + long-lived tree + array + short-lived trees
    def size(d): return (1 << (d + 1)) - 1
    stretch = 18
    expected = size(stretch) + (1 + (size(16) - 1)) + 1
    for d in range(4, 17, 2):
        iters = 2 * size(stretch) // size(d)
        expected += iters * (1 + size(d) - 1) + iters * size(d)
    assert r["alloc_count"] == expected
    for c in r["cycle_log"]:
        assert set(c) >= {"heap_before", "heap_after", "live_bytes", "goal_bytes"}
        assert c["live_bytes"] <= c["heap_before"]


def test_same_seed_same_run_and_same_allocations_under_nogc():
    a = gcbench.run("marksweep", "churn", params=SMALL_CHURN, seed=7, heap="64M")
    b = gcbench.run("marksweep", "churn", params=SMALL_CHURN, seed=7, heap="64M")
    assert a["alloc_count"] == b["alloc_count"] and a["alloc_bytes"] == b["alloc_bytes"]
    assert a["cycles"] == b["cycles"] >= 2
    assert [c["live_bytes"] for c in a["cycle_log"]] == [c["live_bytes"] for c in b["cycle_log"]]
    n = gcbench.run("nogc", "churn", params=SMALL_CHURN, seed=7, heap="512M")
    assert n["cycles"] == 0 and n["free_count"] == 0
    assert (n["alloc_count"], n["alloc_bytes"], n["mutator_ops"]) == (a["alloc_count"], a["alloc_bytes"], a["mutator_ops"])
    c = gcbench.run("marksweep", "churn", params=SMALL_CHURN, seed=8, heap="64M")
    assert c["alloc_bytes"] != a["alloc_bytes"]


def test_trees_same_allocations_under_nogc_and_marksweep():
    a = gcbench.run("marksweep", "binary-trees", params=SMALL_TREES, heap="64M", verify=True)
    n = gcbench.run("nogc", "binary-trees", params=SMALL_TREES, heap="512M")
    assert (a["alloc_count"], a["alloc_bytes"]) == (n["alloc_count"], n["alloc_bytes"])


def test_full_collection_frees_exactly_the_garbage():
    # after the run, the ring (and what it reaches) is all that is live
    from gcbench_core.heap import ManagedHeap
    from gcbench_core.collectors import marksweep
    from gcbench_core.workloads import churn
    heap = ManagedHeap(64 << 20, 100, verify=True)
    marksweep.attach(heap, {})
    from gcbench import registry
    params = registry.resolve(registry.get_workload("churn"), dict(SMALL_CHURN, mutate_fraction=0.0, max_slots=0), "parameter")
    churn.run(heap, params, 3)
    heap.collect()
    objects, nbytes = heap.live_after_full_gc()
    assert objects == SMALL_CHURN["live_objects"] + 1    # the members and the ring


def test_accounting_balances_every_cycle():
    r = gcbench.run("marksweep", "churn", params=SMALL_CHURN, heap="64M", verify=True)
    c = r["counters"]
    assert c["heap_in_use_bytes"] == r["alloc_bytes"] - r["free_bytes"]
    assert r["cycles"] >= 2


@pytest.mark.parametrize("kind", ["free-reachable", "accounting", "header"])
def test_verifier_catches_corruption(kind):
    def damage(heap):
        heap.corrupt_at(2, kind)
    with pytest.raises(RunError) as info:
        gcbench.run("marksweep", "churn", params=SMALL_CHURN, heap="64M", verify=True, on_heap=damage)
    assert info.value.kind == "heap corruption"
    assert "heap corruption" in str(info.value)


def test_verifier_silent_without_damage_or_verify():
    def damage(heap):
        heap.corrupt_at(2, "accounting")
    # without --verify, nobody looks: the run completes
    gcbench.run("marksweep", "churn", params=SMALL_CHURN, heap="64M", on_heap=damage)


def test_heap_exhausted_is_a_clean_error(cli):
    proc = cli("run", "-c", "nogc", "-w", "binary-trees", "--heap", "8M", check=1)
    assert proc.stderr.count("\n") == 1
    assert "heap exhausted" in proc.stderr and "8388608" in proc.stderr
    proc = cli("run", "-c", "marksweep", "-w", "churn", "--heap", "1M",
               "--param", "live_objects=100000", check=1)
    assert "heap exhausted" in proc.stderr and "live" in proc.stderr


def test_gogc_off_collects_only_when_full():
    r = gcbench.run("marksweep", "churn", params=SMALL_CHURN, heap="4M", gogc="off", verify=True)
    assert r["cycles"] >= 1
    assert all(c["forced"] for c in r["cycle_log"])
    assert r["gogc"] is None


def test_pacer_follows_go_rule():
    r = gcbench.run("marksweep", "churn", params=dict(SMALL_CHURN, live_objects=200000, ops=400000),
                    heap="256M", gogc=50)
    for c in r["cycle_log"]:
        assert c["goal_bytes"] == max(c["live_bytes"] * 150 // 100, (4 << 20) * 50 // 100)
    # the heap never runs far past the goal: a cycle starts when it is reached
    for prev, cur in zip(r["cycle_log"], r["cycle_log"][1:]):
        assert cur["heap_before"] <= prev["goal_bytes"] + 64 * 1024


@pytest.mark.parametrize("args, needle", [
    (["run", "-c", "nosuch", "-w", "churn"], "unknown collector"),
    (["run", "-c", "marksweep", "-w", "nosuch"], "unknown workload"),
    (["run", "-c", "marksweep", "-w", "churn", "--param", "nosuch=1"], "unknown parameter"),
    (["run", "-c", "marksweep", "-w", "churn", "--param", "ops=-5"], "out of range"),
    (["run", "-c", "marksweep", "-w", "churn", "--param", "ops=many"], "expected an integer"),
    (["run", "-c", "marksweep", "-w", "churn", "--param", "ops"], "KEY=VALUE"),
    (["run", "-c", "marksweep", "-w", "churn", "--heap", "lots"], "malformed heap size"),
    (["run", "-c", "marksweep", "-w", "churn", "--heap=-5M"], "heap size"),
    (["run", "-c", "marksweep", "-w", "churn", "--heap", "1000G"], "exceeds this machine"),
    (["run", "-c", "marksweep", "-w", "churn", "--gogc=-1"], "GOGC"),
    (["run", "-c", "marksweep", "-w", "churn", "--gogc", "fast"], "GOGC"),
    (["run", "-c", "marksweep", "-w", "churn", "--seed=-1"], "seed"),
    (["run", "-c", "marksweep", "-w", "churn", "--opt", "barrier=dijkstra"], "unknown option"),
    (["run", "-c", "marksweep"], "required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_one_line_exit_2(cli, args, needle):
    proc = cli(*args, check=2)
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_shows_collectors_workloads_and_defaults(cli):
    out = cli("list", check=0).stdout
    for name in ("nogc", "marksweep", "binary-trees", "churn", "long_lived_depth=16", "live_objects=100000"):
        assert name in out


def test_help_explains_every_flag(cli):
    out = cli("run", "--help", check=0).stdout
    for flag in ("--collector", "--workload", "--param", "--seed", "--heap", "--gogc", "--verify",
                 "--gctrace", "--json", "--memstats"):
        assert flag in out


def test_gctrace_lines(cli):
    proc = cli("run", "-c", "marksweep", "-w", "churn", *params_args(SMALL_CHURN), "--heap", "64M",
               "--gctrace", check=0)
    lines = [l for l in proc.stderr.splitlines() if l.startswith("gc ")]
    assert len(lines) >= 2
    import re
    assert re.match(r"gc 1 @\d+\.\d+s \d+%: [\d.]+\+[\d.]+\+[\d.]+ ms clock, \d+->\d+->\d+ MB, \d+ MB goal, \d+ P", lines[0])


def test_memstats(cli):
    proc = cli("run", "-c", "marksweep", "-w", "churn", *params_args(SMALL_CHURN), "--heap", "64M",
               "--memstats", check=0)
    for name in ("NumGC", "PauseTotalNs", "PauseNs", "HeapAlloc", "NextGC", "Mallocs", "Frees", "GCCPUFraction"):
        assert name in proc.stdout


def test_bit_operations_are_single_instructions():
    # popcount and ctz must not be libgcc calls (__popcountdi2) in the kernels
    import glob, os, subprocess
    import gcbench_core
    libs = glob.glob(os.path.join(os.path.dirname(gcbench_core.__file__), "**", "*.so"), recursive=True)
    assert libs
    for lib in libs:
        syms = subprocess.run(["nm", "-D", "--undefined-only", lib], capture_output=True, text=True).stdout
        assert "__popcountdi2" not in syms and "__ctzdi2" not in syms, lib
