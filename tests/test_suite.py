"""gcbench suite / minheap / compare, and suite file validation."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pyperf
import pytest

import gcbench
from gcbench import registry
from gcbench.suite import suitefile
from gcbench.errors import RunError, UsageError
from conftest import FAST_SUITE, NEUTRAL_CWD, churn_suite, run_cli, write_suite as write


SMALL_SUITE = """
name = "small"
seeds = [1]
heap = ["64M"]
gogc = [100]
[[collector]]
name = "marksweep"
[[collector]]
name = "nogc"
[[workload]]
name = "churn"
params = { live_objects = 5000, ops = 200000 }
[[workload]]
name = "binary-trees"
params = { long_lived_depth = 10, array_len = 10000, max_depth = 10 }
""" + FAST_SUITE


def pyperf_cli(*args):
    return subprocess.run([sys.executable, "-m", "pyperf", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=NEUTRAL_CWD)


def load_benchmarks(path):
    """The suite's benchmarks: run times in NAME.json, pauses in NAME.pauses.json."""
    from gcbench.io import store
    return {b.get_name(): b for b in store.suite_benchmarks(path)}


def test_small_suite_writes_one_pyperf_file(tmp_path):
    suite_file = write(tmp_path, SMALL_SUITE)
    out = tmp_path / "out" / "small.json"
    proc = run_cli("suite", suite_file, "-o", out, "--fast", check=0)
    assert "[4/4]" in proc.stderr and "left" in proc.stderr      # progress with an estimate
    assert max(map(len, (proc.stdout + proc.stderr).splitlines())) <= 100   # a 100-column terminal

    benches = load_benchmarks(out)
    throughput = {n: b for n, b in benches.items() if b.get_metadata()["gcbench_metric"] == "throughput"}
    assert len(throughput) == 4
    assert {b.get_metadata()["collector"] for b in throughput.values()} == {"marksweep", "nogc"}
    for name, bench in throughput.items():
        meta = bench.get_metadata()
        for key in ("collector", "opts", "workload", "params", "seed", "heap", "heap_bytes", "gogc",
                    "gcbench_version", "cflags", "compiler", "gcbench_run_file"):
            assert key in meta, key
        assert meta["heap_bytes"] == 64 << 20 and meta["gogc"] == 100
        assert json.loads(meta["params"])["live_objects" if meta["workload"] == "churn" else "max_depth"] in (5000, 10)
        assert bench.get_unit() == "second" and bench.get_nvalue() == 2
        run = json.loads((out.parent / meta["gcbench_run_file"]).read_text())
        assert run["collector"] == meta["collector"] and run["heap_bytes"] == 64 << 20
        assert "cycle_log" in run and "pause_starts_ns" in run
        pauses = benches.get(name + "/pauses")
        if meta["collector"] == "nogc":
            assert run["pauses_ns"] == [] and pauses is None
        else:
            # the pause benchmark holds exactly the kernel's recorded pauses, in seconds
            assert run["pauses_ns"]
            assert list(pauses.get_values()) == [p / 1e9 for p in run["pauses_ns"]]
            assert pauses.get_metadata()["gcbench_metric"] == "pause"

    for cmd in (["stats", out], ["hist", out], ["metadata", out]):
        proc = pyperf_cli(*cmd)
        assert proc.returncode == 0, proc.stderr
    assert "marksweep" in pyperf_cli("stats", out).stdout
    other = tmp_path / "other.json"
    other.write_bytes(out.read_bytes())
    proc = pyperf_cli("compare_to", out, other, "--table")
    assert proc.returncode == 0, proc.stderr
    # pyperf's tools see run times only: the pauses are in their own pyperf file
    run_times = {b.get_name() for b in pyperf.BenchmarkSuite.load(str(out)).get_benchmarks()}
    assert run_times == set(throughput)
    pause_file = out.parent / "small.pauses.json"
    pause_names = {b.get_name() for b in pyperf.BenchmarkSuite.load(str(pause_file)).get_benchmarks()}
    assert pause_names and all(n.endswith("/pauses") for n in pause_names)

    # a suite not named suite.json keeps its run files, summary and report in its own folder
    summary = (out.parent / "small" / "summary.txt").read_text()
    assert "vs marksweep" in summary and "nogc" in summary
    assert max(len(line) for line in summary.splitlines()) <= 100
    status = json.loads((out.parent / "small.status.json").read_text())
    assert status["finished"] and all(s["status"] == "done" for s in status["configurations"].values())

    # gcbench compare: a row per configuration, a column group per collector
    proc = run_cli("compare", out, "--format", "csv", check=0)
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert len(rows) == 3
    header = rows[0]
    assert "marksweep:time_s" in header and "nogc:relative_time" in header and "nogc:mmu_10ms" in header
    for row in rows[1:]:
        cells = dict(zip(header, row))
        assert float(cells["marksweep:relative_time"]) == 1.0
        assert cells["nogc:significant"] in ("true", "false")
        assert float(cells["marksweep:pause_max_s"]) > 0
        assert cells["nogc:pause_max_s"] == ""              # nogc never pauses
        assert float(cells["nogc:mmu_10ms"]) == 1.0
    text = run_cli("compare", out, "--baseline", "nogc", check=0).stdout
    assert "vs nogc" in text and "churn(live_objects=5000,ops=200000) heap=64M" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    wide = run_cli("compare", out, "--baseline", "nogc", "--wide", check=0).stdout
    assert "nogc (baseline)" in wide
    md = run_cli("compare", out, other, "--format", "markdown", check=0).stdout
    assert md.startswith("| configuration |") and "marksweep [other]" in md
    assert run_cli("compare", out, "--baseline", "tricolour").returncode == 2


def test_failing_configuration_is_recorded_and_the_suite_goes_on(tmp_path):
    # nogc runs out of a 1M heap; malloc (when built) refuses churn's shared objects
    suite_file = write(tmp_path, """
name = "failing"
heap = ["1M"]
[[collector]]
name = "nogc"
[[collector]]
name = "malloc"
optional = true
[[collector]]
name = "marksweep"
[[workload]]
name = "churn"
params = { live_objects = 2000, ops = 200000, mutate_fraction = 0.2 }
""" + FAST_SUITE)
    out = tmp_path / "f.json"
    proc = run_cli("suite", suite_file, "-o", out, "--fast", check=1)
    assert "FAILED: heap exhausted" in proc.stderr
    status = json.loads((tmp_path / "f.status.json").read_text())
    entries = {name.split("/")[1]: s for name, s in status["configurations"].items()}
    assert entries["nogc"]["status"] == "failed" and "heap exhausted" in entries["nogc"]["error"]
    assert entries["marksweep"]["status"] == "done"
    benches = load_benchmarks(out)
    assert {b.get_metadata()["collector"] for b in benches.values()} == {"marksweep"}
    table = run_cli("compare", out, check=0).stdout
    assert "FAILED" in table
    if "malloc" in entries:
        # a combination the collector refuses is skipped, not failed
        assert entries["malloc"]["status"] == "skipped" and "malloc" in entries["malloc"]["error"]
        assert "n/a" in table and "not applicable" in proc.stderr


def test_refused_combinations_do_not_fail_the_suite(tmp_path):
    if not registry.collectors().get("malloc") or not registry.collectors()["malloc"].available:
        pytest.skip("no malloc collector in this build")
    suite_file = write(tmp_path, """
name = "refused"
heap = ["16M"]
[[collector]]
name = "malloc"
[[workload]]
name = "churn"
params = { live_objects = 2000, ops = 100000, mutate_fraction = 0.2 }
[[workload]]
name = "churn"
params = { live_objects = 2000, ops = 100000, mutate_fraction = 0.0 }
""" + FAST_SUITE)
    out = tmp_path / "n.json"
    proc = run_cli("suite", suite_file, "-o", out, "--fast", check=0)
    assert "1 not applicable" in proc.stdout
    assert len(load_benchmarks(out)) == 1


def test_killed_suite_keeps_finished_configurations_and_resumes(tmp_path):
    suite_file = write(tmp_path, churn_suite("resumable", seeds=(1, 2, 3), heap=("32M",)))
    out = tmp_path / "r" / "suite.json"
    status_path = out.parent / "suite.status.json"
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", "suite", str(suite_file), "-o", str(out), "--fast"],
                            cwd=NEUTRAL_CWD, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    finished = {}
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            finished = json.loads(status_path.read_text())["configurations"]
        except (OSError, ValueError, KeyError):
            finished = {}
        if finished:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert finished, "no configuration finished in time"
    kept = load_benchmarks(out)
    kept_names = {n for n in kept if not n.endswith("/pauses")}
    assert 1 <= len(kept_names) < 6, "the suite should have been killed half-way"
    run_files = {n: out.parent / kept[n].get_metadata()["gcbench_run_file"] for n in kept_names}
    stamps = {n: p.stat().st_mtime_ns for n, p in run_files.items()}
    values = {n: kept[n].get_values() for n in kept_names}

    proc = run_cli("suite", suite_file, "-o", out, "--fast", "--resume", check=0)
    assert f"{len(kept_names)} already finished" in proc.stderr
    assert f"[{6 - len(kept_names)}/{6 - len(kept_names)}]" in proc.stderr
    done = load_benchmarks(out)
    assert len([n for n in done if not n.endswith("/pauses")]) == 6
    for name in kept_names:       # not run again
        assert done[name].get_values() == values[name]
        assert run_files[name].stat().st_mtime_ns == stamps[name]
    assert json.loads(status_path.read_text())["finished"]
    # a finished output is not overwritten without --resume
    again = run_cli("suite", suite_file, "-o", out, "--fast", check=2)
    assert "already exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1


def test_default_suite_fast_writes_under_results(tmp_path):
    proc = run_cli("suite", "--fast", check=0, cwd=tmp_path)
    outputs = list(tmp_path.glob("results/*/suite.json"))
    assert len(outputs) == 1, proc.stderr
    out_dir = outputs[0].parent
    assert (out_dir / "summary.txt").exists() and (out_dir / "runs").is_dir()
    benches = load_benchmarks(outputs[0])
    collectors = {b.get_metadata()["collector"] for b in benches.values()}
    workloads = {b.get_metadata()["workload"] for b in benches.values()}
    available = {n for n, e in registry.collectors().items() if e.available}
    # refcount runs only the Python workloads, which the fast variant leaves out
    default = suitefile.load(suitefile.DEFAULT_SUITE)
    runs_trees = {c.collector for c in default.configurations() if c.workload == "binary-trees"}
    assert collectors == available & runs_trees
    assert workloads == {"binary-trees", "churn"}       # the fast variant keeps the core two
    for bench in benches.values():
        meta = bench.get_metadata()
        assert meta["heap"] == "2x" and meta["heap_bytes"] >= 2 * meta["minheap_bytes"] - 8192


def test_default_suite_has_two_heap_sizes():
    suite = suitefile.load(suitefile.DEFAULT_SUITE)
    assert len(suite.heaps) == 2 and all(h.relative for h in suite.heaps)
    assert {c for c, _, _ in suite.collectors} == {n for n, e in registry.collectors().items() if e.available}
    names = {w for w, _, _ in suite.workloads}
    assert {"binary-trees", "churn"} <= names <= set(registry.workloads())
    # optional workloads this build lacks are left out, not errors
    assert names | suite.optional_workloads == {"binary-trees", "churn", "server", "lru-cache",
                                                "python-heap", "python-cycles"}
    # refcount only on the Python workloads, and only refcount on those
    configs = {(c.collector, c.workload) for c in suite.configurations()}
    assert {w for c, w in configs if c == "refcount"} == {"python-heap", "python-cycles"}
    assert {c for c, w in configs if w in ("python-heap", "python-cycles")} == {"refcount"}


def test_optional_entries_are_skipped_when_absent():
    suite = suitefile.parse(BASE + "[[workload]]\nname = 'no-such-workload'\noptional = true\n"
                            "[[collector]]\nname = 'no-such-collector'\noptional = true\n"
                            "[fast]\nworkloads = ['no-such-workload', 'churn']\n"
                            "[fast.params]\nno-such-workload = { x = 1 }\n", "s.toml")
    assert [w for w, _, _ in suite.workloads] == ["churn"]
    assert [c for c, _, _ in suite.collectors] == ["marksweep"]
    fast, _ = suite.for_mode("fast")
    assert [c.workload for c in fast.configurations()] == ["churn"]
    with pytest.raises(UsageError, match="fast.workloads\\[0\\]: 'queue' is not a workload of this suite"):
        suitefile.parse(BASE + "[fast]\nworkloads = ['queue']\n", "s.toml")
    with pytest.raises(UsageError, match="workload\\[1\\].optional: expected true or false"):
        suitefile.parse(BASE + "[[workload]]\nname = 'churn'\noptional = 'yes'\n", "s.toml")


def test_minheap_completes_and_ten_percent_less_fails():
    params = {"live_objects": 5000, "ops": 100000}
    proc = run_cli("minheap", "-c", "marksweep", "-w", "churn", "-p", "live_objects=5000",
                   "-p", "ops=100000", check=0)
    last = proc.stdout.strip().splitlines()[-1]
    found = int(last.split()[-1])
    assert found % 8192 == 0
    result = gcbench.run("marksweep", "churn", params=params, heap=found)
    assert result["peak_heap_bytes"] <= found
    with pytest.raises(RunError, match="heap exhausted"):
        gcbench.run("marksweep", "churn", params=params, heap=int(found * 0.9))
    with pytest.raises(RunError, match="heap exhausted"):
        gcbench.run("marksweep", "churn", params=params, heap=found - 8192)


def test_minheap_of_nogc_is_everything_allocated():
    from gcbench.runs.config import make_config
    from gcbench.runs.minheap import find_min_heap
    config = make_config("nogc", "binary-trees", params={"long_lived_depth": 8, "array_len": 1000, "max_depth": 8})
    found, search = find_min_heap(config)
    allocated = gcbench.run("nogc", "binary-trees", params=config.params, heap=found)["alloc_bytes"]
    assert allocated <= found < allocated * 1.1 + (1 << 20)
    assert len(search.probes) < 12       # galloped, not bisected across the range
    with pytest.raises(RunError):
        gcbench.run("nogc", "binary-trees", params=config.params, heap=int(found * 0.9))


BASE = """
name = "v"
[[collector]]
name = "marksweep"
[[workload]]
name = "churn"
"""


def top(keys):
    """BASE with top-level keys (they must come before the first table)."""
    return keys + BASE


@pytest.mark.parametrize("text, message", [
    (top("colour = 1\n"), "colour: unknown key"),
    (BASE.replace('name = "v"\n', ""), "name: missing"),
    (BASE.replace('name = "v"', 'name = "a b"'), "name: expected a name"),
    (top("heap = ['64M', 'lots']\n"), "heap[1]: malformed heap size 'lots'"),
    (top("heap = ['0.5x']\n"), "heap[0]: '0.5x' is below the minimum heap"),
    (top("heap = []\n"), "heap: must not be empty"),
    (top("gogc = [100, -5]\n"), "gogc[1]: GOGC must be non-negative"),
    (top("seeds = [1, 1]\n"), "seeds[1]: duplicate"),
    (top("seeds = 3\n"), "seeds: expected an array"),
    (BASE + "[[collector]]\nname = 'marksweep'\nopts = { barrier = 'hybrid' }\n",
     "collector[1].opts.barrier: unknown option of marksweep"),
    (BASE + "[[collector]]\nname = 'zgc'\n", "collector[1].name: unknown collector 'zgc'"),
    (BASE + "[[workload]]\nname = 'churn'\nparams = { live_objects = 'many' }\n",
     "workload[1].params.live_objects: expected an integer"),
    (BASE + "[[workload]]\nname = 'churn'\nparams = { live_objects = -1 }\n",
     "workload[1].params.live_objects: -1 is out of range"),
    (BASE + "[[workload]]\nname = '*'\nparams = { ops = 5 }\n", "workload[1].params: parameters cannot be given"),
    (BASE + "[pyperf]\nprocesses = 0\n", "pyperf.processes: 0 is out of range"),
    (BASE + "[pyperf]\nwarmup = 1\n", "pyperf.warmup: unknown key"),
    (BASE + "[fast]\nheap = ['x2']\n", "fast.heap[0]: malformed heap size"),
    (BASE + "[fast.params]\nchurn = { ops = 'few' }\n", "fast.params.churn.ops: expected an integer"),
    (BASE + "[fast.params]\nfibonacci = { n = 3 }\n", "fast.params.fibonacci: unknown workload"),
    ("name = 'v'\n[[workload]]\nname = 'churn'\n", "collector: missing"),
    ("name = 'v' x\n", "not valid TOML"),
])
def test_suite_file_errors_name_their_key_path(text, message):
    with pytest.raises(UsageError) as info:
        suitefile.parse(text, "s.toml")
    assert str(info.value).startswith("s.toml: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_suite_file_exits_2_with_one_line(tmp_path):
    path = write(tmp_path, BASE + "[[collector]]\nname = 'marksweep'\nopts = { x = 1 }\n")
    proc = run_cli("suite", path, "-o", tmp_path / "o.json", check=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "collector[1].opts.x" in lines[0]
    assert not (tmp_path / "o.json").exists()
    assert run_cli("suite", tmp_path / "missing.toml", check=2).stderr.count("\n") == 1
    assert run_cli("suite", "--fast", "--rigorous", check=2).returncode == 2
    assert run_cli("compare", tmp_path / "missing.json", check=2).stderr.count("\n") == 1


def test_suite_matrix_order_and_names():
    suite = suitefile.parse(top("heap = ['64M', '2x']\ngogc = [100, 'off']\nseeds = [1, 2]\n")
                            + "[[collector]]\nname = 'nogc'\n", "s.toml")
    configs = suite.configurations()
    assert len(configs) == 2 * 2 * 2 * 2
    # a row's collectors are adjacent, so a partial suite holds whole rows
    assert [c.collector for c in configs[:2]] == ["marksweep", "nogc"]
    assert len({c.name for c in configs}) == len(configs)
    assert configs[0].name == "churn/marksweep/heap=64M/gogc=100/seed=1"
    assert configs[-1].row_label == "churn heap=2x gogc=off seed=2"
    fast, flag = suite.for_mode("fast")
    assert flag is True and fast is suite          # no [fast] table: pyperf's --fast
    with_fast = suitefile.parse(BASE + "[fast]\nheap = ['3x']\n[fast.params]\nchurn = { ops = 7000 }\n", "s.toml")
    fast, flag = with_fast.for_mode("fast")
    assert flag is False and [h.text for h in fast.heaps] == ["3x"]
    assert fast.configurations()[0].params["ops"] == 7000
    assert fast.configurations()[0].name.startswith("churn(ops=7000)/")


def test_one_run_per_process_collectors_get_a_process_per_value():
    from gcbench.suite.driver import worker_settings
    base = {"processes": 4, "values": 3, "warmups": 1, "min_time": 0.1}
    assert worker_settings(base, None, False, "marksweep") == (base, None)
    assert worker_settings(base, "fast", True, "marksweep") == (base, "--fast")
    boehm = registry.collectors().get("boehm")
    if boehm is None or not boehm.available:
        pytest.skip("no boehm collector in this build")
    assert worker_settings(base, None, False, "boehm") == (
        {"processes": 12, "values": 1, "warmups": 0, "loops": 1}, None)
    # pyperf's --fast rules, applied here instead of by pyperf
    assert worker_settings(base, "fast", True, "boehm")[0]["processes"] == 3 * 2
    assert worker_settings(base, "rigorous", True, "boehm")[0]["processes"] == 8 * 3


def test_resume_without_output_finds_the_newest_unfinished_run(tmp_path):
    from gcbench.suite.driver import latest_unfinished
    for stamp, suite_name, finished in (("20260101-000000", "small", False), ("20260102-000000", "small", True),
                                        ("20260103-000000", "other", False)):
        d = tmp_path / "results" / stamp
        d.mkdir(parents=True)
        (d / "suite.status.json").write_text(json.dumps({"suite": suite_name, "finished": finished}))
        time.sleep(0.01)
    found = latest_unfinished("small", root=tmp_path / "results")
    assert found == tmp_path / "results" / "20260101-000000" / "suite.json"
    assert latest_unfinished("absent", root=tmp_path / "results") is None
    proc = run_cli("suite", "--fast", "--resume", cwd=tmp_path, check=2)
    assert "no unfinished run of suite 'default'" in proc.stderr
