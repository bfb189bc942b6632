"""nogc as a lower bound: the arena is faulted in before the timed run, for every arena
collector (equal memory terms), and the result says so."""
import gcbench
from conftest import SMALL_TREES


def test_arena_is_pretouched_outside_the_timed_run(monkeypatch):
    monkeypatch.setenv("GCBENCH_PRETOUCH", "64M")
    r = gcbench.run("nogc", "binary-trees", params=SMALL_TREES, heap="32M")
    assert r["pretouch"]["bytes"] == 32 << 20 and r["pretouch"]["whole_arena"]
    big = gcbench.run("marksweep", "binary-trees", params=SMALL_TREES, heap="256M")
    assert big["pretouch"]["bytes"] == 64 << 20 and not big["pretouch"]["whole_arena"]
    out = gcbench.run("malloc", "binary-trees", params=SMALL_TREES)
    assert out["pretouch"]["bytes"] == 0 and "outside the arena" in out["pretouch"]["note"]


def test_pretouch_is_reported(cli, monkeypatch):
    monkeypatch.setenv("GCBENCH_PRETOUCH", "64M")
    proc = cli("run", "-c", "nogc", "-w", "binary-trees", "--heap", "32M", "-p", "max_depth=10",
               "-p", "long_lived_depth=10", "-p", "array_len=1000", check=0)
    assert "pretouch     the whole arena faulted in before the timed run" in proc.stdout
    monkeypatch.setenv("GCBENCH_PRETOUCH", "0")
    proc = cli("run", "-c", "nogc", "-w", "binary-trees", "--heap", "32M", "-p", "max_depth=10",
               "-p", "long_lived_depth=10", "-p", "array_len=1000", check=0)
    assert "pretouch     none: not pretouched" in proc.stdout


def test_the_arena_is_resident_before_the_run_starts(monkeypatch):
    """What the run will touch is already resident when it starts (so it takes no first-touch
    faults in its timed region); without pretouch it is not."""
    import os

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def resident_growth(env):
        monkeypatch.setenv("GCBENCH_PRETOUCH", env)
        seen = {}
        base = rss()
        gcbench.run("nogc", "binary-trees", params=SMALL_TREES, heap="128M",
                    on_heap=lambda heap: seen.setdefault("at_start", rss() - base))
        return seen["at_start"]
    assert resident_growth("256M") >= 128 << 20
    assert resident_growth("0") < 16 << 20


def test_ctrl_c_during_a_long_pretouch_stops_at_once(tmp_path, monkeypatch):
    """Pretouching a large arena takes seconds on a busy machine: Ctrl-C stops it within
    a second too (it checks for signals between 64 MiB chunks), with exit code 130."""
    from test_interrupt import interrupt_and_check, start
    monkeypatch.setenv("GCBENCH_PRETOUCH", "2G")
    proc = start(["-c", "nogc", "-w", "churn", "--param", "ops=10000000000", "--heap", "2G"], tmp_path)
    interrupt_and_check(proc, tmp_path, warmup_s=1.0)


def test_a_copying_plans_bump_space_is_resident_before_the_run_starts(monkeypatch):
    """semispace keeps its objects in the bump space, outside the arena: it is faulted in
    too, so a copying plan is timed on the same memory terms as the others."""
    import os

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    monkeypatch.setenv("GCBENCH_PRETOUCH", "256M")
    seen = {}
    base = rss()
    gcbench.run("semispace", "binary-trees", params=SMALL_TREES, heap="64M",
                on_heap=lambda heap: seen.setdefault("at_start", rss() - base))
    assert seen["at_start"] >= (64 + 64) << 20         # the arena and both halves
