"""The workload library: every workload verified under marksweep, the effects each one
exists to show, the shared size distributions, and workload files."""
import numpy as np
import pytest

from gcbench import registry
from gcbench.runs.runner import run
from conftest import run_cli

# Small settings: each run well under a second.
SMALL = {
    "queue": {"lifetime": 2000, "ops": 100000},
    "lru-cache": {"capacity": 2000, "keys": 20000, "requests": 100000},
    "growing-slices": {"slices": 2000, "max_length": 600},
    "leak": {"requests": 60000, "leak_fraction": 0.05},
    "escape": {"calls": 30000},
    "python-heap": {"churn_ops": 200000, "churn_live": 2000},
    "churn": {"live_objects": 5000, "ops": 100000},
    "binary-trees": {"long_lived_depth": 8, "array_len": 1000, "min_depth": 4, "max_depth": 8},
    "server": {"requests": 20000, "cache_objects": 500},
    "graph-mutate": {"nodes": 5000, "ops": 100000},
    "python-cycles": {"ops": 20000},
    "mt-gcbench": {"long_lived_depth": 8, "array_len": 1000, "min_depth": 4, "max_depth": 8},
    "goroutine-leak": {"requests": 20000, "leak": 0.2},
}


def test_every_workload_has_small_settings():
    assert set(registry.workloads()) - {"trace-replay"} <= set(SMALL)


@pytest.mark.parametrize("workload", sorted(SMALL))
def test_workload_verified_under_marksweep(workload):
    # python-heap's live set is this process's object graph, which earlier tests grow
    heap = "256M" if workload == "python-heap" else "64M"
    r = run("marksweep", workload, params=SMALL[workload], heap=heap, gogc=20, verify=True)
    assert r["verified"] and r["cycles"] >= 1
    assert r["counters"]["verified_cycles"] == r["cycles"]
    # accounting: every cycle's heap after == live (STW), and allocation happened
    assert r["alloc_count"] > 0
    for c in r["cycle_log"]:
        assert c["heap_after"] == c["live_bytes"]


@pytest.mark.parametrize("workload", ["queue", "lru-cache", "growing-slices", "leak", "escape"])
def test_workload_deterministic_across_collectors(workload):
    # the same seed gives the same allocation stream under every collector
    # (escape's frame objects refer to heap objects without counted stores: refcount refuses it)
    runs = [run(name, workload, params=SMALL[workload], heap="256M", seed=5)
            for name, entry in registry.collectors().items()
            if entry.available and not (workload == "escape" and entry.constraints.barrier == "refcount")]
    assert len({(r["alloc_count"], r["alloc_bytes"]) for r in runs}) == 1


def test_leak_live_bytes_grow():
    r = run("marksweep", "leak", params={"requests": 200000, "leak_fraction": 0.05}, heap="256M")
    live = [c["live_bytes"] for c in r["cycle_log"]]
    assert len(live) >= 5
    assert live[-1] > 3 * live[0]
    # grows cycle after cycle (allowing a little noise from the in-flight ring)
    assert sum(b > a for a, b in zip(live, live[1:])) >= 0.8 * (len(live) - 1)
    assert r["leaked_requests"] > 0 and r["live_bytes_growth"] == live[-1] - live[0]
    # no leak: the live set stays flat
    flat = run("marksweep", "leak", params={"requests": 200000, "leak_fraction": 0.0}, heap="256M")
    flat_live = [c["live_bytes"] for c in flat["cycle_log"]]
    assert max(flat_live) < 2 * min(flat_live)


def test_leak_until_heap_exhausted_is_exit_1():
    proc = run_cli("run", "-c", "marksweep", "-w", "leak", "--heap", "4M",
                   "-p", "requests=2000000", "-p", "leak_fraction=0.5")
    assert proc.returncode == 1 and "heap exhausted" in proc.stderr


def test_escape_analysis_saves_heap_bytes_and_collections():
    full = run("marksweep", "escape", params={"calls": 100000, "escape_fraction": 1.0})
    tenth = run("marksweep", "escape", params={"calls": 100000, "escape_fraction": 0.1})
    assert tenth["alloc_bytes"] * 5 <= full["alloc_bytes"]
    assert tenth["cycles"] < full["cycles"]
    # same objects, only their home differs
    assert tenth["escaped_objects"] + tenth["stack_objects"] == full["escaped_objects"] == 1600000


def test_growing_slices_prealloc_allocates_less():
    grown = run("marksweep", "growing-slices", params=SMALL["growing-slices"])
    pre = run("marksweep", "growing-slices", params={**SMALL["growing-slices"], "prealloc": True})
    assert pre["alloc_bytes"] < grown["alloc_bytes"]
    assert pre["alloc_count"] < grown["alloc_count"]
    # int elements: the backing arrays are the only allocations
    g = run("marksweep", "growing-slices", params={**SMALL["growing-slices"], "element": "int"})
    p = run("marksweep", "growing-slices", params={**SMALL["growing-slices"], "element": "int", "prealloc": True})
    assert p["alloc_bytes"] < g["alloc_bytes"] / 1.5


def test_lru_hits_rise_with_zipf_exponent():
    flat = run("marksweep", "lru-cache", params={**SMALL["lru-cache"], "zipf_s": 0.0})
    skewed = run("marksweep", "lru-cache", params={**SMALL["lru-cache"], "zipf_s": 1.2})
    assert flat["cache_hits"] + flat["cache_misses"] == 100000
    # uniform keys over 10x the capacity: about 10% hits; Zipf 1.2: most requests hit
    assert 0.05 < flat["cache_hits"] / 100000 < 0.15
    assert skewed["cache_hits"] / 100000 > 0.6
    assert skewed["alloc_bytes"] < flat["alloc_bytes"]


def test_queue_live_set_is_constant():
    r = run("marksweep", "queue", params={"lifetime": 5000, "ops": 300000})
    live = [c["live_bytes"] for c in r["cycle_log"]][2:]
    assert live and max(live) < 1.2 * min(live)


def test_python_heap_builds_real_graph_and_prints_counts():
    proc = run_cli("run", "-c", "marksweep", "-w", "python-heap", "--verify",
                   "-p", "churn_ops=100000", check=0)
    counts = {}
    for line in proc.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] in ("python_objects", "python_edges", "python_roots"):
            counts[fields[0]] = int(fields[1])
    assert counts["python_objects"] >= 50000
    assert counts["python_edges"] > counts["python_objects"]
    assert 0 < counts["python_roots"] < counts["python_objects"]


def test_python_heap_graph_is_all_live_after_build():
    held = {}
    r = run("marksweep", "python-heap", params={"churn_ops": 0}, verify=True,
            on_heap=lambda heap: held.setdefault("heap", heap))
    held["heap"].collect()
    objects, _ = held["heap"].live_after_full_gc()
    # the roots keep every rebuilt node; besides them only the root array and the churn ring live
    assert r["python_objects"] >= 50000
    assert objects == r["python_objects"] + 2


def test_python_heap_bad_module_is_exit_2():
    proc = run_cli("run", "-c", "marksweep", "-w", "python-heap", "-p", "modules=no_such_module_xyz")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no_such_module_xyz" in proc.stderr


def test_churn_defaults_unchanged_by_distributions():
    # figures of churn before dist.pxd existed (same seed): uniform draws are the same draws
    r = run("marksweep", "churn", params={"live_objects": 5000, "ops": 200000, "mutate_fraction": 0.3}, seed=3)
    assert (r["alloc_count"], r["alloc_bytes"]) == (205001, 11311768)
    # (the cycles' live bytes moved when bump runs began to count a run's objects at once,
    # so that a cycle can start up to one run earlier; the allocation stream did not)
    assert [c["live_bytes"] for c in r["cycle_log"]] == [339784, 338240]


def _payload_draws(dist, lo=8, hi=4000, n=20000):
    from gcbench_core.heap import ManagedHeap, TRACE_OPS
    heap = ManagedHeap(64 << 20, 100)
    registry.get_collector("marksweep").module.attach(heap, {})
    heap.start_recording()
    params = registry.resolve(registry.get_workload("churn"),
                              {"live_objects": 10, "ops": n, "mutate_fraction": 0,
                               "payload_dist": dist, "min_payload": lo, "max_payload": hi}, "parameter")
    registry.get_workload("churn").module.run(heap, params, 1)
    rec = heap.recorded_trace()
    return rec["y"][rec["op"] == TRACE_OPS["alloc"]][1:].astype(np.int64)


def test_distributions():
    fixed = _payload_draws("fixed")
    assert set(fixed.tolist()) == {(8 + 4000) // 2}
    uniform = _payload_draws("uniform")
    assert uniform.min() >= 8 and uniform.max() <= 4000
    assert abs(uniform.mean() - 2004) < 60
    pareto = _payload_draws("pareto")
    assert pareto.min() >= 8 and pareto.max() <= 4000
    # heavy tail: most draws small, a few near the top
    assert np.median(pareto) < 25
    assert (pareto > 1000).sum() > 20
    assert pareto.mean() > 2 * np.median(pareto)


# ---------------------------------------------------------------------------
# Workload files

def test_workload_file_runs(tmp_path):
    f = tmp_path / "lru.toml"
    f.write_text('workload = "lru-cache"\nseed = 9\ndescription = "hot keys"\n'
                 '[params]\ncapacity = 500\nkeys = 5000\nrequests = 20000\nzipf_s = 1\n'
                 'payload_dist = "pareto"\n')
    out = tmp_path / "r.json"
    run_cli("run", "-c", "marksweep", "--workload-file", f, "--verify", "--json", out, check=0)
    import json
    r = json.loads(out.read_text())
    assert r["workload"] == "lru-cache" and r["seed"] == 9
    assert r["params"]["capacity"] == 500 and r["params"]["zipf_s"] == 1.0
    assert r["params"]["payload_dist"] == "pareto"
    # --param and --seed override the file
    run_cli("run", "-c", "marksweep", "--workload-file", f, "-p", "capacity=600", "--seed", "4",
            "--json", out, check=0)
    r = json.loads(out.read_text())
    assert r["params"]["capacity"] == 600 and r["seed"] == 4


@pytest.mark.parametrize("text, needles", [
    ('workload = "queue"\ncolour = 1\n', ["colour: unknown key", "allowed: workload, seed"]),
    ('seed = 1\n', ["workload: missing"]),
    ('workload = "nosuch"\n', ["workload: 'nosuch' is not a workload", "queue"]),
    ('workload = 3\n', ["workload: expected a string"]),
    ('workload = "queue"\nseed = "x"\n', ["seed: expected an integer"]),
    ('workload = "queue"\nseed = -1\n', ["seed: -1 is out of range"]),
    ('workload = "queue"\nparams = 4\n', ["params: expected a table"]),
    ('workload = "queue"\n[params]\nlifetme = 5\n', ["params.lifetme: unknown parameter of queue", "allowed: lifetime"]),
    ('workload = "queue"\n[params]\nlifetime = "5"\n', ["params.lifetime: expected an integer, got a string ('5')"]),
    ('workload = "queue"\n[params]\nlifetime = 2.5\n', ["params.lifetime: expected an integer"]),
    ('workload = "queue"\n[params]\nlifetime = 0\n', ["params.lifetime: 0 is out of range [1, 100000000]"]),
    ('workload = "lru-cache"\n[params]\nzipf_s = 11.0\n', ["params.zipf_s: 11.0 is out of range [0.0, 10.0]"]),
    ('workload = "lru-cache"\n[params]\nzipf_s = true\n', ["params.zipf_s: expected a number"]),
    ('workload = "queue"\n[params]\npayload_dist = "normal"\n', ["params.payload_dist: 'normal' is not one of fixed, uniform, pareto"]),
    ('workload = "growing-slices"\n[params]\nprealloc = "yes"\n', ["params.prealloc: expected true or false"]),
    ('workload = "queue"\n[params]\nmin_payload = 100\nmax_payload = 10\n', ["params.min_payload: 100 exceeds params.max_payload (10)"]),
    ('workload = "queue"\n[params\n', ["invalid TOML"]),
])
def test_bad_workload_file_one_line_exit_2(tmp_path, text, needles):
    f = tmp_path / "w.toml"
    f.write_text(text)
    proc = run_cli("run", "-c", "marksweep", "--workload-file", f, check=2)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(f) in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_workload_file_missing_and_conflicting_flags(tmp_path):
    proc = run_cli("run", "-c", "marksweep", "--workload-file", tmp_path / "none.toml", check=2)
    assert "cannot read workload file" in proc.stderr
    f = tmp_path / "w.toml"
    f.write_text('workload = "queue"\n')
    proc = run_cli("run", "-c", "marksweep", "-w", "queue", "--workload-file", f, check=2)
    assert "only one of" in proc.stderr


def test_list_shows_new_workloads_readably():
    proc = run_cli("list", check=0)
    for name in ("queue", "lru-cache", "growing-slices", "leak", "escape", "python-heap", "trace-replay"):
        assert f"\n  {name} " in proc.stdout
    # a distribution and its bounds on one line
    assert "payload_dist=uniform min_payload=8 max_payload=56" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) < 200
