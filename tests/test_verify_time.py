"""--verify and the time axis: verification is taken out of every timestamp (pauses, cycles,
request latencies), as it is out of the wall time, so every event lies inside the run and
MMU is a fraction."""
import numpy as np

import gcbench
from gcbench import metrics
from gcbench.report import gotrace

TREES = {"long_lived_depth": 12, "array_len": 20000, "min_depth": 4, "max_depth": 12}


def _check_axis(r):
    wall_ns = r["wall_s"] * 1e9
    ends = [s + d for s, d in zip(r["pause_starts_ns"], r["pauses_ns"])]
    assert ends and max(ends) <= wall_ns, (max(ends), wall_ns)
    assert min(r["pause_starts_ns"]) >= 0
    assert all(c["end_ns"] <= wall_ns for c in r["cycle_log"])
    assert all(0.0 <= m <= 1.0 for _, m, _ in metrics.mmu_curve(r))


def test_verify_time_is_out_of_every_pause_and_cycle_time():
    plain = gcbench.run("marksweep", "binary-trees", params=TREES, heap="32M")
    checked = gcbench.run("marksweep", "binary-trees", params=TREES, heap="32M", verify=True)
    # verification costs far more than the run: with it on the time axis, the pauses
    # would run on long after wall_s
    assert checked["verify_s"] > checked["wall_s"]
    assert checked["cycles"] == plain["cycles"] > 3
    _check_axis(plain)
    _check_axis(checked)


def test_gctrace_times_stay_inside_the_run():
    r = gcbench.run("marksweep", "binary-trees", params=TREES, heap="32M", verify=True)
    lines = gotrace.gctrace_lines(r)
    stamps = [float(line.split("@")[1].split("s")[0]) for line in lines if "@" in line]
    assert stamps and max(stamps) <= r["wall_s"] + 1e-3


def test_server_latencies_leave_verification_out():
    """One worker serves requests one after another, so their latencies add up to at most
    the run's wall time, which leaves verification out; with verification inside them
    they would add up to more than the whole verification time."""
    r = gcbench.run("marksweep", "server", params={"requests": 20000, "workers": 1, "cache_objects": 20000},
                    heap="16M", gogc=50, verify=True)
    assert r["cycles"] > 3 and r["verify_s"] > 3 * r["wall_s"]
    # the kept sample (every k-th request) times k estimates the sum: within 2x of the wall
    latencies = np.asarray(r["request_latencies_ns"], dtype=np.float64) * r["request_latency_sample_every"]
    assert latencies.sum() / 1e9 <= 2 * r["wall_s"] < r["verify_s"]


def test_assist_time_leaves_verification_out():
    """An assist at the goal ends marking in a pause, where --verify checks the heap: the
    assist's time must not include that check.  On the one mutator thread, GC work timed
    on it (pauses, sweeping, assists) fits in the run's wall time, which leaves
    verification out; with the check counted as assist time it was several times more."""
    r = gcbench.run("tricolor", "graph-mutate", params={"nodes": 10000, "ops": 200000}, heap="64M",
                    gogc=20, stress=500, verify=True)
    c = r["counters"]
    assert r["cycles"] > 10 and r["verify_s"] > 3 * r["wall_s"]
    on_mutator_s = (c["stw_ns"] + c["sweep_ns"] + c["assist_ns"]) / 1e9
    assert on_mutator_s <= r["wall_s"], (on_mutator_s, r["wall_s"])
    assert r["gc_cpu_fraction"] < 1.0
