"""Metrics on event sets computed by hand."""
import pytest

from gcbench import metrics


def fake(pauses, wall_s):
    """pauses: [(start_ns, length_ns)]"""
    return {"pause_starts_ns": [s for s, _ in pauses], "pauses_ns": [l for _, l in pauses], "wall_s": wall_s}


def test_mmu_single_10ms_pause():
    r = fake([(500_000_000, 10_000_000)], 1.0)
    assert metrics.mmu(r, 10_000_000)[0] == pytest.approx(0.0, abs=1e-9)
    assert metrics.mmu(r, 20_000_000)[0] == pytest.approx(0.5, abs=1e-9)
    assert metrics.mmu(r, 5_000_000)[0] == 0.0
    assert metrics.mmu(r, 1_000_000_000)[0] == pytest.approx(0.99)
    assert metrics.mmu(r, 10_000_000)[1] == 500_000_000


def test_mmu_two_close_pauses():
    # 2 ms pauses at 10 ms and 14 ms: a 10 ms window can hold both -> 0.6
    r = fake([(10_000_000, 2_000_000), (14_000_000, 2_000_000)], 0.1)
    assert metrics.mmu(r, 10_000_000)[0] == pytest.approx(0.6)
    assert metrics.mmu(r, 4_000_000)[0] == pytest.approx(0.5)
    assert metrics.mmu(r, 2_000_000)[0] == pytest.approx(0.0)


def test_mmu_no_pauses():
    assert metrics.mmu(fake([], 1.0), 10_000_000)[0] == 1.0


def test_percentiles():
    p = metrics.percentiles(list(range(1, 101)))
    assert p["p50"] == pytest.approx(50.5)
    assert p["max"] == 100
    assert p["p99"] == pytest.approx(99.01)
    assert metrics.percentiles([])["max"] is None


def test_gc_cpu_fraction():
    c = {"stw_ns": 10, "sweep_ns": 5, "assist_ns": 5, "background_cpu_ns": 20,
         "run_start_ns": 1000, "run_end_ns": 1090, "verify_ns": 10}
    # (10 + 5 + 5 + 20) / ((90 - 10) + 20)
    assert metrics.gc_cpu_fraction(c) == pytest.approx(40 / 100)
    # never above 1, whatever the clocks say
    assert metrics.gc_cpu_fraction(dict(c, stw_ns=10**6)) == 1.0

def run_events(pauses, wall_s, cycles, **extra):
    """A result dictionary with just what the metrics read."""
    r = fake(pauses, wall_s)
    r.update(cycles=cycles, mutator_ops=1000, alloc_bytes=4096, alloc_count=100,
             peak_heap_bytes=3 << 20, peak_live_bytes=1 << 20, gc_cpu_fraction=0.1,
             mutator_s=wall_s - sum(l for _, l in pauses) / 1e9)
    r.update(extra)
    return r


def test_mmu_below_longest_pause_is_zero():
    # pauses of 1, 10 and 3 ms: every window up to 10 ms fits inside the 10 ms one
    r = fake([(5_000_000, 1_000_000), (200_000_000, 10_000_000), (600_000_000, 3_000_000)], 1.0)
    for w in (1_000_000, 2_500_000, 9_999_999, 10_000_000):
        assert metrics.mmu(r, w)[0] == 0.0
    assert metrics.mmu(r, 10_000_000)[1] == 200_000_000
    assert metrics.mmu(r, 20_000_000)[0] == pytest.approx(0.5)


def test_mmu_curve_windows_and_positions():
    r = fake([(500_000_000, 10_000_000)], 1.0)
    curve = metrics.mmu_curve(r)
    windows = [w for w, _, _ in curve]
    assert windows[0] == 1_000_000 and windows[-1] == 1_000_000_000
    assert windows == sorted(windows)
    assert dict((w, u) for w, u, _ in curve)[1_000_000] == 0.0
    assert curve[-1][1] == pytest.approx(0.99)
    # utilization never decreases with the window
    utils = [u for _, u, _ in curve]
    assert all(a <= b + 1e-12 for a, b in zip(utils, utils[1:]))
    # the worst window of each size lies inside the pause (shorter windows) or covers it
    for w, u, start in curve[:-1]:
        if w <= 10_000_000:
            assert 500_000_000 <= start and start + w <= 510_000_000
        else:
            assert start <= 500_000_000 and start + w >= 510_000_000


def test_mmu_curve_short_run_ends_at_the_run_length():
    r = fake([(10_000_000, 2_000_000)], 0.05)       # a 50 ms run
    curve = metrics.mmu_curve(r)
    assert curve[-1][0] == 50_000_000
    assert curve[-1][1] == pytest.approx(1 - 2 / 50)
    assert all(w <= 50_000_000 for w, _, _ in curve)


def test_pause_and_throughput_figures():
    r = run_events([(0, 2_000_000), (10_000_000, 3_000_000), (20_000_000, 5_000_000)], 0.5, cycles=2)
    assert metrics.pauses_per_cycle(r) == pytest.approx(1.5)
    assert metrics.total_stw_ns(r) == 10_000_000
    assert metrics.throughput(r) == (pytest.approx(2000.0), pytest.approx(8192.0))
    assert metrics.heap_overhead(r) == pytest.approx(3.0)
    s = metrics.summarize(r)
    assert s["pause_ns"]["p50"] == 3_000_000 and s["pause_ns"]["max"] == 5_000_000
    assert s["total_stw_ns"] == 10_000_000 and s["pauses_per_cycle"] == pytest.approx(1.5)
    assert s["heap_overhead"] == pytest.approx(3.0)
    # the 5 ms pause fills half of a 10 ms window, and no 10 ms window holds more pause
    assert s["mmu_10ms"] == pytest.approx(0.5)


def test_figures_without_cycles_or_time():
    r = run_events([], 0.0, cycles=0, peak_live_bytes=0)
    assert metrics.pauses_per_cycle(r) is None
    assert metrics.total_stw_ns(r) == 0
    assert metrics.throughput(r) == (None, None)
    assert metrics.heap_overhead(r) is None


def test_percentiles_hand_computed():
    p = metrics.percentiles([4, 1, 3, 2])      # sorted 1 2 3 4
    assert p["p50"] == pytest.approx(2.5)
    assert p["p90"] == pytest.approx(3.7)       # 1 + 0.9 * 3 = position 2.7 -> 3.7
    assert p["p99.9"] == pytest.approx(3.997)
    assert p["max"] == 4


def test_t_test_matches_pyperf():
    from pyperf._utils import is_significant
    a = [1.00, 1.02, 0.99, 1.01, 1.00]
    b = [1.10, 1.12, 1.09, 1.11, 1.13]
    c = [1.00, 1.03, 0.98, 1.01, 1.01]
    for x, y in ((a, b), (a, c), (b, c)):
        ours = metrics.t_test(x, y)
        theirs = is_significant(x, y)
        assert ours[0] == theirs[0]
        assert ours[1] == pytest.approx(theirs[1])
    # different sizes work too; identical constant samples are not different
    assert metrics.t_test([1.0, 1.0, 1.0], [2.0, 2.0])[0] is True
    assert metrics.t_test([1.0, 1.0], [1.0, 1.0])[0] is False
    assert metrics.t_critical_95(1) == 12.706 and metrics.t_critical_95(10_000) == 1.960
