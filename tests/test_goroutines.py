"""Goroutine stacks (gcbench_core/goroutines.pyx) and the goroutine-leak workload: every
collector keeps what parked stacks reach (verified, and the same live set after a full
collection), moving collectors rewrite parked stacks, tricolor scans them outside its
pauses (its in-pause goroutine scan stays at the running goroutine's K slots while the
total grows with the goroutine count) where marksweep scans them all in its pause."""
import pytest

import gcbench
from gcbench import registry
from conftest import run_cli

SMALL = {"requests": 15000, "leak": 0.2, "in_flight": 32, "objects": 4, "payload": 96, "stack_slots": 8}
# a small fixed nursery: minor collections in small runs
SMALL_OPTS = {"gencopy": {"nursery": "fixed", "nursery_kib": 256},
              "sticky": {"nursery": "fixed", "nursery_kib": 256}}
BARRIERS = ("dijkstra", "yuasa", "hybrid")
MODES = ("concurrent", "incremental")


def run_and_collect(collector, params=SMALL, opts=None, **kw):
    """The result, and (objects, bytes) live after a final full collection."""
    held = {}
    r = gcbench.run(collector, "goroutine-leak", params=params, opts=opts or SMALL_OPTS.get(collector),
                    heap=kw.pop("heap", "16M"), gogc=kw.pop("gogc", 25), on_heap=lambda h: held.update(heap=h),
                    **kw)
    heap = held["heap"]
    heap.collect()
    if registry.get_collector(collector).constraints.supports_verify:
        heap.verify()
    return r, heap.live_after_full_gc()


def available_collectors():
    return [name for name, entry in registry.collectors().items() if entry.available]


@pytest.mark.parametrize("collector", available_collectors())
def test_every_collector_keeps_what_parked_stacks_reach(collector):
    verify = registry.get_collector(collector).constraints.supports_verify
    r, (objects, nbytes) = run_and_collect(collector, verify=verify)
    leaked = r["leaked_goroutines"]
    assert 0 < leaked < SMALL["requests"]
    assert r["goroutines"] == leaked == r["metrics"]["/sched/goroutines:goroutines"]
    assert r["counters"]["goroutines_created"] == SMALL["requests"]
    if collector in registry.exact_collectors() or collector == "malloc":
        # exactly what the leaked goroutines hold: the response, the request state
        # (`objects`), the channel and the reply
        assert objects == leaked * (SMALL["objects"] + 3), collector
    if verify and registry.get_collector(collector).constraints.honours_stress:
        assert r["cycles"] >= 3 and r["counters"]["verified_cycles"] >= r["cycles"]
        assert r["counters"]["stack_scan_bytes"] > 0


def test_the_live_set_is_the_same_for_every_exact_collector():
    live = {c: run_and_collect(c)[1] for c in registry.exact_collectors()}
    assert len(set(live.values())) == 1, live


@pytest.mark.parametrize("barrier", BARRIERS)
@pytest.mark.parametrize("mode", MODES)
def test_tricolor_checkmark_every_barrier(barrier, mode):
    r, live = run_and_collect("tricolor", opts={"barrier": barrier, "mode": mode}, verify=True, checkmark=True)
    reference = run_and_collect("marksweep")[1]
    assert live == reference
    marking = [c for c in r["cycle_log"] if not c["forced"]]
    assert len(marking) >= 3
    # parked stacks were scanned outside the pauses (by the worker, or at their own safepoints)
    assert r["counters"]["stack_scan_bytes"] > r["counters"]["stack_scan_pause_bytes"]


def test_marksweep_checkmark():
    r, live = run_and_collect("marksweep", verify=True, checkmark=True)
    assert r["counters"]["stack_scan_bytes"] == r["counters"]["stack_scan_pause_bytes"] > 0


@pytest.mark.parametrize("collector", ("semispace", "gencopy"))
def test_moving_collectors_rewrite_parked_stacks(collector):
    # every 50th allocation collects: parked goroutines' objects move many times, and the
    # verifier (every cycle) finds a stale parked slot as a reference outside to-space
    params = dict(SMALL, requests=3000)
    r, live = run_and_collect(collector, params=params, verify=True, stress=50)
    assert r["cycles"] >= r["alloc_count"] // 50 - 1
    assert r["counters"]["copied_objects"] > 0
    assert live[0] == r["leaked_goroutines"] * (params["objects"] + 3)


def pause_and_total(collector, requests, opts=None):
    params = dict(SMALL, requests=requests, leak=0.5)
    r = gcbench.run(collector, "goroutine-leak", params=params, opts=opts, heap="64M", gogc=25)
    cycles = [c for c in r["cycle_log"] if not c["forced"]]
    return r, max(c["stack_scan_pause_bytes"] for c in cycles), r["counters"]["stack_scan_bytes"]


def largest_cycle_scan(result):
    return max(c["stack_scan_bytes"] for c in result["cycle_log"] if not c["forced"])


@pytest.mark.parametrize("barrier", BARRIERS)
def test_tricolor_pause_scan_work_stays_at_k_while_total_grows(barrier):
    k_bytes = 8 * SMALL["stack_slots"]
    small, small_pause, small_total = pause_and_total("tricolor", 4000, {"barrier": barrier})
    big, big_pause, big_total = pause_and_total("tricolor", 32000, {"barrier": barrier})
    assert big["goroutines"] > 6 * small["goroutines"]
    # in a pause: at most the running goroutine's K slots, at mark start and at termination
    assert small_pause <= 2 * k_bytes and big_pause <= 2 * k_bytes
    # while the stack-scan work grows with the goroutines: a cycle's (8x the goroutines:
    # 7.7x here, quiet), and in total (12x quiet, with more cycles; how many more depends
    # on the background worker's speed, so the bound is loose: 5.6x on a loaded machine)
    assert largest_cycle_scan(big) > 4 * largest_cycle_scan(small)
    assert big_total > 3 * small_total


def test_marksweep_pause_scan_work_grows_with_the_goroutines():
    small, small_pause, small_total = pause_and_total("marksweep", 4000)
    big, big_pause, big_total = pause_and_total("marksweep", 32000)
    assert big_pause > 4 * small_pause
    assert big_pause > 100 * 8 * SMALL["stack_slots"]
    assert big["counters"]["stack_scan_pause_bytes"] == big_total


def test_samples_grow_together():
    r = gcbench.run("tricolor", "goroutine-leak", params=dict(SMALL, requests=20000, samples=5), heap="64M",
                    gogc=25)
    samples = r["goroutine_samples"]
    assert [s["requests"] for s in samples] == [4000, 8000, 12000, 16000, 20000, 20000]
    for key in ("/sched/goroutines:goroutines", "leaked_goroutines", "stack_scan_bytes_total"):
        values = [s[key] for s in samples[:-1]]
        assert values == sorted(values) and values[-1] > 2 * values[0] > 0, key
    # the live heap grows with them (tricolor's marked bytes include what was allocated
    # black during the cycle, so it is not monotonic from one sample to the next)
    live = [s["/gc/heap/live:bytes"] for s in samples if s["/gc/heap/live:bytes"]]
    assert live[-1] > 2 * live[0]
    assert samples[-1]["/sched/goroutines:goroutines"] == samples[-1]["leaked_goroutines"] == r["goroutines"]
    assert r["metrics"]["/gc/scan/stack:bytes"] == r["cycle_log"][-1]["stack_scan_bytes"] > 0


def test_the_run_prints_the_samples():
    proc = run_cli("run", "-c", "marksweep", "-w", "goroutine-leak", "-p", "requests=2000", "-p", "samples=2",
                   "--memstats", check=0)
    assert "NumGoroutine" in proc.stdout and "/sched/goroutines:goroutines" in proc.stdout


def test_record_refuses_in_one_line(tmp_path):
    proc = run_cli("record", "-w", "goroutine-leak", "-o", tmp_path / "g.trace", check=2)
    assert proc.stderr.count("\n") == 1 and "cannot record workload 'goroutine-leak'" in proc.stderr
    assert not (tmp_path / "g.trace").exists()


@pytest.mark.parametrize("param", ("leak=1.5", "stack_slots=4", "objects=0", "in_flight=0"))
def test_bad_parameters_one_line(param):
    proc = run_cli("run", "-c", "marksweep", "-w", "goroutine-leak", "-p", param, check=2)
    assert proc.stderr.count("\n") == 1
