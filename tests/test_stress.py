"""Stress mode (--stress N: a collection every N allocations) and the --checkmark flag."""
import pytest

import gcbench
from gcbench import registry
from gcbench.cli import build_parser

from conftest import run_cli

TINY_CHURN = {"live_objects": 300, "ops": 3000, "mutate_fraction": 0.3}


@pytest.mark.parametrize("every", [1, 7, 1000])
def test_marksweep_collects_every_n_allocations(every):
    result = gcbench.run("marksweep", "churn", params=TINY_CHURN, stress=every, verify=True)
    # the hook runs before each allocation; the N-th, 2N-th, ... collect first
    assert result["cycles"] == result["alloc_count"] // every
    assert result["verified"]


def test_stress_keeps_the_live_set_on_every_workload():
    # a collection every 3 allocations under the verifier finds a missed root or a lost
    # object at once; the live set must still be whole at the end of each workload
    small = {"binary-trees": {"long_lived_depth": 4, "array_len": 100, "min_depth": 2, "max_depth": 6},
             "churn": TINY_CHURN,
             "server": {"requests": 300, "cache_objects": 50, "pool": True}}
    for workload, params in small.items():
        if workload not in registry.workloads():
            continue
        result = gcbench.run("marksweep", workload, params=params, stress=3, verify=True, heap="4M")
        assert result["cycles"] >= result["alloc_count"] // 3


def test_stress_off_is_the_pacer():
    paced = gcbench.run("marksweep", "churn", params=TINY_CHURN, stress=0)
    assert paced["cycles"] < 5


def test_boehm_honours_stress():
    if not registry.collectors()["boehm"].available:
        pytest.skip("libgc not built")
    result = gcbench.run("boehm", "churn", params=TINY_CHURN, stress=500)
    assert result["cycles"] >= result["alloc_count"] // 500


@pytest.mark.parametrize("collector", ["nogc", "malloc"])
def test_collectors_that_never_collect_ignore_stress(collector):
    params = dict(TINY_CHURN, mutate_fraction=0)
    assert gcbench.run(collector, "churn", params=params, stress=5)["cycles"] == 0


@pytest.mark.parametrize("bad", ["-1", "x", "1.5", "", str(1 << 70)])
def test_bad_stress_is_a_usage_error(bad):
    proc = run_cli("run", "-c", "marksweep", "-w", "churn", "--stress", bad)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--stress" in proc.stderr


def test_cli_stress_and_checkmark():
    proc = run_cli("run", "-c", "marksweep", "-w", "churn", "--stress", "50", "--checkmark",
                   "--param", "live_objects=200", "--param", "ops=2000", "--verify", check=0)
    cycles = int(proc.stdout.split("cycles")[1].split()[0])
    assert cycles >= 2200 // 50


def test_help_documents_stress_and_checkmark():
    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "--stress N" in text and "--checkmark" in text
    assert "no-op for collectors" in " ".join(text.split())


def test_checkmark_is_a_noop_without_concurrent_marking():
    plain = gcbench.run("marksweep", "churn", params=TINY_CHURN)
    checked = gcbench.run("marksweep", "churn", params=TINY_CHURN, checkmark=True)
    assert checked["cycles"] == plain["cycles"]
    assert checked["alloc_count"] == plain["alloc_count"]


def _tricolor():
    entry = registry.collectors().get("tricolor")
    if entry is None or not entry.available:
        pytest.skip("tricolor not available")


@pytest.mark.parametrize("barrier", ["dijkstra", "yuasa", "hybrid"])
def test_tricolor_stress_starts_cycles_and_checkmark_passes(barrier):
    # incremental mode is deterministic; stress starts a cycle every 20 allocations
    # outside a cycle, and every cycle's mark is re-checked with the world stopped
    _tricolor()
    params = dict(TINY_CHURN, ops=20000, mutate_fraction=0.5)
    opts = {"mode": "incremental", "barrier": barrier}
    paced = gcbench.run("tricolor", "churn", params=params, opts=opts)
    stressed = gcbench.run("tricolor", "churn", params=params, opts=opts, stress=20,
                           checkmark=True)
    assert stressed["cycles"] > 10 * max(paced["cycles"], 1)


def test_stress_and_checkmark_catch_a_missing_barrier():
    # barrier=none loses objects the mutator moves behind the marker: in a small run,
    # only stress mode makes enough cycles for checkmark to see it
    _tricolor()
    params = dict(TINY_CHURN, ops=20000, mutate_fraction=0.5)
    with pytest.raises(gcbench.errors.RunError, match="unmarked at the end of marking"):
        gcbench.run("tricolor", "churn", params=params, opts={"mode": "incremental", "barrier": "none"},
                    stress=20, checkmark=True)
