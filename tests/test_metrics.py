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
    c = {"stw_ns": 10, "sweep_ns": 5, "assist_ns": 5, "background_cpu_ns": 20, "mutator_cpu_ns": 80}
    assert metrics.gc_cpu_fraction(c) == pytest.approx(40 / 100)
