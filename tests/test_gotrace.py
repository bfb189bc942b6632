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


def test_minor_cycle_line_shows_young_bytes_and_survival_not_a_goal():
    run = fake_run(2)
    run["cycle_log"] = [
        {"start_ns": 1000, "end_ns": 2000, "heap_before": 8 << 20, "heap_after": 5 << 20,
         "live_bytes": 5 << 20, "goal_bytes": 10 << 20, "cycle_goal_bytes": 10 << 20,
         "kind": "minor", "young_bytes": 4 << 20, "survived_bytes": 1 << 20},
        {"start_ns": 3000, "end_ns": 4000, "heap_before": 12 << 20, "heap_after": 6 << 20,
         "live_bytes": 6 << 20, "goal_bytes": 12 << 20, "cycle_goal_bytes": 12 << 20,
         "kind": "major", "young_bytes": 0, "survived_bytes": 0}]
    minor, major = gotrace.gctrace_lines(run)
    assert "goal" not in minor
    assert "4 MB young, 25.0% survived" in minor and minor.endswith("(minor)")
    assert "12 MB goal" in major and major.endswith("(major)")
