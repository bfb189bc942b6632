"""Go-style MemStats on hand-built events."""
from gcbench.report import gotrace


def fake_run(cycles, pauses_per_cycle=1):
    pauses, starts, owners = [], [], []
    t = 0
    for c in range(1, cycles + 1):
        for k in range(pauses_per_cycle):
            t += 1000
            pauses.append(c * 10 + k)
            starts.append(t)
            owners.append(c)
    return {"pauses_ns": pauses, "pause_starts_ns": starts, "pause_cycles": owners, "cycles": cycles,
            "cycle_log": [{"forced": c == 3} for c in range(1, cycles + 1)],
            "counters": {"heap_in_use_bytes": 1, "pages_in_use_bytes": 8192, "heap_goal_bytes": 4},
            "alloc_bytes": 5, "alloc_count": 6, "free_count": 7, "gc_cpu_fraction": 0.25}


def test_pause_ns_is_go_circular_buffer():
    stats = gotrace.memstats(fake_run(300))
    assert stats["NumGC"] == 300 and stats["NumForcedGC"] == 1
    assert len(stats["PauseNs"]) == 256
    assert stats["PauseNs"][(300 + 255) % 256] == 3000        # the newest, where Go puts it
    assert stats["PauseNs"][0] == 2570                          # cycle 257 overwrote cycle 1
    assert stats["PauseNs"][44] == 450                          # cycle 45 is the oldest kept
    assert stats["PauseTotalNs"] == sum(c * 10 for c in range(1, 301))
    assert gotrace.recent(stats["PauseNs"], 300, 3) == [2980, 2990, 3000]
    assert stats["PauseEnd"][(300 + 255) % 256] == 300 * 1000 + 3000


def test_pause_ns_sums_a_cycles_pauses_and_leaves_unused_slots_zero():
    stats = gotrace.memstats(fake_run(3, pauses_per_cycle=2))
    assert stats["PauseNs"][:4] == [10 + 11, 20 + 21, 30 + 31, 0]
    assert stats["PauseTotalNs"] == 21 + 41 + 61
    lines = gotrace.format_memstats(stats)
    assert any(line.strip() == "PauseNs: [21 41 61]" for line in lines)
    for key in ("NumGC", "PauseTotalNs", "HeapAlloc", "NextGC", "Mallocs", "Frees", "GCCPUFraction"):
        assert any(line.strip().startswith(key + ":") for line in lines)
