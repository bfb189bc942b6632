"""benchmarks/fidelity.py: the native reference programs (C on libgc and malloc, Go) run
side by side with gcbench's boehm, malloc and tricolor.  At its smallest sizes, every
shape prints both sides of each part, or says why a part was skipped (no cc, libgc or
go).  No timing assertions: the targets live in the script (--check)."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
SCRIPT = os.path.join(BENCH_DIR, "fidelity.py")


def load_fidelity():
    spec = importlib.util.spec_from_file_location("fidelity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fidelity = load_fidelity()

# (part, shape, label) for every part the script runs at GOGC 100
PARTS = ([("libgc", s, s) for s, d in fidelity.SHAPES.items() if d["c"]]
         + [("malloc", s, s) for s, d in fidelity.SHAPES.items() if d["c"]]
         + [("go", s, s) for s in fidelity.SHAPES] + [("go", "server", "server -pool")])


@pytest.fixture(scope="module")
def smallest_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fidelity") / "fidelity.json"
    proc = subprocess.run([sys.executable, SCRIPT, "--smallest", "--gogc", "100", "--json", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=out.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out) as f:
        return proc.stdout, json.load(f)


@pytest.mark.parametrize("part,shape,label", PARTS, ids=lambda v: str(v))
def test_each_shape_prints_both_sides(smallest_run, part, shape, label):
    stdout, data = smallest_run
    found = [p for p in data["parts"] if p["part"] == part and p["shape"] == label]
    assert len(found) == 1, f"{part} {label}: one entry in the JSON"
    entry = found[0]
    if "skipped" in entry:
        assert f"{label}" in stdout and "skipped: " + entry["skipped"] in stdout
        pytest.skip(f"{part} {label}: {entry['skipped']}")
    assert "error" not in entry, entry.get("error")
    if part == "libgc":
        assert f"libgc, {shape} (" in stdout
        assert entry["native"][0]["collections"] > 0 and entry["native"][0]["alloc_count"] > 0
        assert entry["inlab"][0]["cycles"] > 0
        # the same program: the same objects allocated on both sides
        assert entry["native"][0]["alloc_count"] == entry["inlab"][0]["alloc_count"]
    elif part == "malloc":
        assert f"malloc, {shape}" in stdout
        assert entry["native"][0]["peak_in_use_bytes"] > 0
        if entry["inlab_error"] is None:
            assert entry["native"][0]["alloc_count"] == entry["inlab"][0]["alloc_count"]
        else:
            assert "gcbench malloc failed: " + entry["inlab_error"] in stdout
    else:
        assert f"Go, {label}, GOGC=100" in stdout
        go, tricolor = entry["go"][0], entry["tricolor"][0]
        assert go["objects"] > 0 and tricolor["objects"] > 0
        # the same program: object counts agree to within the runtime's own allocations
        assert abs(go["objects"] - tricolor["objects"]) <= 0.05 * tricolor["objects"]


def test_every_check_reports_ratio_and_verdict(smallest_run):
    stdout, data = smallest_run
    if any("skipped" not in p and p["part"] != "malloc" for p in data["parts"]):
        assert data["checks"], "a part that ran has its checks"
    for check in data["checks"]:
        verdict = "ok  " if check["ok"] else "MISS"
        assert f"{verdict}  {check['check']}: " in stdout


def test_gctrace_line_parsed():
    line = ("gc 12 @0.153s 7%: 0.021+14+0.047 ms clock, 0.043+0.79/3.6/0.36+0.095 ms cpu, "
            "16->19->9 MB, 19 MB goal, 0 MB stacks, 0 MB globals, 2 P")
    [cycle] = fidelity.parse_gctrace("noise\n" + line + "\n")
    assert cycle["heap_start_mb"] == 16 and cycle["heap_end_mb"] == 19 and cycle["marked_mb"] == 9
    assert cycle["goal_mb"] == 19 and cycle["cpu_percent"] == 7 and cycle["stw_ms"] == (0.021, 0.047)
    assert fidelity.parse_gctrace(line, after=12) == []


@pytest.mark.parametrize("args", [["--gogc", "0"], ["--shape", "nosuch"], ["--repeat", "x"]])
def test_bad_arguments_one_line_exit_2(args, tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("fidelity.py: ")
