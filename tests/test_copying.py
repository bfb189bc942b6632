"""Copying and generational collectors: semispace, gencopy, sticky.  Safety under the
verifier (every cycle, stress, cycles mid-program), the barrier shown necessary, cycle
kinds and counters in the result, the moving stress mode of the debug build."""
import json

import pytest

import gcbench
from gcbench.errors import RunError
from gcbench.report.gotrace import gctrace_lines
from gcbench.report.timeline import trace_events
from conftest import run_cli

MOVING = ("semispace", "gencopy", "sticky")
# a small fixed nursery: minor collections in small runs (Appel's is half the free heap)
SMALL_NURSERY = {"nursery": "fixed", "nursery_kib": 256}


def small_opts(collector, **extra):
    return dict(SMALL_NURSERY, **extra) if collector != "semispace" else dict(extra)

SMALL = {
    "binary-trees": {"long_lived_depth": 8, "array_len": 1000, "min_depth": 4, "max_depth": 8},
    "churn": {"live_objects": 3000, "ops": 60000, "mutate_fraction": 0.3},
    "graph-mutate": {"nodes": 3000, "ops": 60000},
    "mt-gcbench": {"long_lived_depth": 8, "array_len": 1000, "min_depth": 4, "max_depth": 8},
    "server": {"requests": 3000, "cache_objects": 300, "pool": True},
    "growing-slices": {"slices": 500, "max_length": 600},
}

# stores young objects into old ones all the time: a missing barrier loses one at once
BARRIER_CASE = {"nodes": 10000, "ops": 200000}


@pytest.mark.parametrize("collector", MOVING)
@pytest.mark.parametrize("workload", sorted(SMALL))
def test_verified_after_every_cycle(collector, workload):
    r = gcbench.run(collector, workload, params=SMALL[workload], opts=small_opts(collector), heap="16M",
                    gogc=20, verify=True)
    assert r["cycles"] >= 1 and r["counters"]["verified_cycles"] == r["cycles"]


@pytest.mark.parametrize("collector", MOVING)
def test_stress_collects_mid_program_and_keeps_the_live_set(collector):
    r = gcbench.run(collector, "churn", params={"live_objects": 300, "ops": 3000, "mutate_fraction": 0.3},
                    stress=7, verify=True, heap="8M")
    assert r["cycles"] >= r["alloc_count"] // 7 - 1


@pytest.mark.parametrize("workload", sorted(SMALL))
def test_semispace_moving_stress_passes_every_workload(workload):
    # --stress 1: every allocation collects, so every object moves at every allocation
    params = dict(SMALL[workload])
    for key, small in (("ops", 2000), ("requests", 200), ("slices", 40), ("max_depth", 5), ("long_lived_depth", 4)):
        if key in params:
            params[key] = small
    r = gcbench.run("semispace", workload, params=params, stress=1, heap="16M", verify=True)
    assert r["cycles"] >= r["alloc_count"] - 1
    assert r["counters"]["copied_objects"] > 0


@pytest.mark.parametrize("collector, barrier", [("gencopy", "card"), ("gencopy", "object"), ("sticky", "object")])
def test_barrier_none_is_caught_and_the_real_barrier_passes(collector, barrier):
    with pytest.raises(RunError, match="heap corruption"):
        gcbench.run(collector, "graph-mutate", params=BARRIER_CASE, opts=small_opts(collector, barrier="none"),
                    gogc=20, verify=True)
    r = gcbench.run(collector, "graph-mutate", params=BARRIER_CASE, opts=small_opts(collector, barrier=barrier),
                    gogc=20, verify=True)
    kinds = r["summary"]["cycle_kinds"]
    assert kinds.get("minor", 0) > 0
    c = r["counters"]
    assert (c["cards_dirtied"] if barrier == "card" else c["remset_entries"]) > 0


def test_the_same_live_set_as_marksweep_after_runtime_gc(tmp_path):
    # record a program with runtime.GC() calls; every collector must keep exactly the
    # objects marksweep keeps at each of them
    trace = tmp_path / "t.trace"
    run_cli("record", "-w", "graph-mutate", "--param", "nodes=2000", "--param", "ops=20000",
            "-o", trace, check=0)
    lines = trace.read_text().splitlines()
    # runtime.GC() every 2000 lines, cycles in the middle of the program
    body = [l for l in lines if l and not l.startswith("#")]
    header = [l for l in body if l.split()[0] in ("roots", "globals")]
    ops = [l for l in body if l.split()[0] not in ("roots", "globals")]
    text = "# gcbench trace 1\n" + "\n".join(header) + "\n"
    for i, op in enumerate(ops):
        text += op + "\n" + ("gc\n" if i % 2000 == 1999 else "")
    trace.write_text(text + "gc\n")
    live = {}
    for collector in ("marksweep",) + MOVING:
        out = tmp_path / f"{collector}.json"
        run_cli("run", "-c", collector, "--trace", trace, "--verify", "--json", out, check=0)
        r = json.loads(out.read_text())
        live[collector] = (r["gc_live_objects"], r["gc_live_bytes"])
    assert len(live["marksweep"][0]) >= 5
    for collector in MOVING:
        assert live[collector] == live["marksweep"], collector


@pytest.mark.parametrize("collector", ("gencopy", "sticky"))
def test_cycle_kinds_and_survival_in_the_result(collector):
    r = gcbench.run(collector, "binary-trees", params=SMALL["binary-trees"] | {"max_depth": 12},
                    opts=SMALL_NURSERY, heap="16M", gogc=100)
    kinds = {c["kind"] for c in r["cycle_log"]}
    assert "minor" in kinds
    minors = [c for c in r["cycle_log"] if c["kind"] == "minor"]
    assert all(0 <= c["survived_bytes"] <= c["young_bytes"] for c in minors)
    assert r["summary"]["minor_survival"] is not None
    assert r["counters"]["promoted_bytes"] == sum(c["survived_bytes"] for c in r["cycle_log"])
    pause_kinds = set(r["pause_kinds"])
    assert "minor" in pause_kinds
    lines = gctrace_lines(r)
    assert sum(l.endswith("(minor)") for l in lines) == len(minors)
    names = {e["name"] for e in trace_events(r)["traceEvents"] if e.get("cat") == "gc,cycle"}
    assert "GC cycle (minor)" in names


def test_semispace_counts_copies_and_frees_from_space():
    r = gcbench.run("semispace", "binary-trees", params=SMALL["binary-trees"], heap="16M", gogc=10, verify=True)
    c = r["counters"]
    assert c["copied_objects"] > 0 and c["copied_bytes"] > 0
    assert {cy["kind"] for cy in r["cycle_log"]} == {"full"}
    # every cycle frees what it did not copy: heap in use after == live
    assert all(cy["heap_after"] == cy["live_bytes"] for cy in r["cycle_log"])


def test_allocation_charges_are_the_same_under_every_collector():
    # bump allocation charges each object its size class, as the arena does
    runs = [gcbench.run(c, "churn", params=SMALL["churn"], heap="64M", seed=3)
            for c in ("marksweep",) + MOVING]
    assert len({(r["alloc_count"], r["alloc_bytes"]) for r in runs}) == 1


def test_verifier_catches_a_stale_pointer_into_from_space():
    # the verifier's own check, without the debug build: damage a reachable object so that
    # it looks copied (a forwarding header) with a pointer to it not updated
    with pytest.raises(RunError, match="forwarding header"):
        gcbench.run("semispace", "churn", params=SMALL["churn"], heap="8M", gogc=10, verify=True,
                    on_heap=lambda heap: heap.corrupt_at(2, "free-reachable"))


def test_mt_gcbench_threads_refused_by_a_copying_plan(cli):
    # semispace runs one mutator thread (PlanConstraints.multi_mutator): one line, exit 2
    proc = cli("run", "-c", "semispace", "-w", "mt-gcbench", "--param", "threads=2")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "threads=2" in proc.stderr


def test_gencopy_appel_nursery_counts_free_slots_of_the_mature_space():
    # churn at twice marksweep's minimum heap (1.33 MiB for these parameters): sweeping
    # leaves every mature span a few live objects, so a free heap counted in free pages
    # only left no nursery and nearly every collection was major; Appel's free heap (the
    # arena less the mature bytes in use) leaves a nursery, and minor collections dominate
    r = gcbench.run("gencopy", "churn", params={"live_objects": 20000, "ops": 300000}, heap="2800K")
    kinds = [c["kind"] for c in r["cycle_log"]]
    assert kinds.count("minor") > kinds.count("major") > 0
    assert min(c["young_bytes"] for c in r["cycle_log"] if c["kind"] == "minor") >= 160 * 1024
