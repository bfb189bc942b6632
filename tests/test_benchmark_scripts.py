"""Every script under benchmarks/ runs at its smallest settings (none can be left out:
they are found by listing the folder), and the pytest-benchmark kernels run once."""
import glob
import os
import subprocess
import sys

import pytest

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
SCRIPTS = sorted(p for p in glob.glob(os.path.join(BENCH_DIR, "*.py"))
                 if not os.path.basename(p).startswith(("_", "test_")))


def test_scripts_found():
    names = {os.path.basename(p) for p in SCRIPTS}
    assert {"bench_core.py", "bench_trees.py", "bench_churn.py", "bench_pauses.py",
            "bench_server.py", "bench_baselines.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_script_runs_at_smallest_settings(script, tmp_path):
    args = [sys.executable, script, "--smallest"]
    with open(script) as f:
        if "_family" in f.read():
            args += ["-o", str(tmp_path / "out.json")]     # a pyperf family script
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip(), "a benchmark prints its figures"


def test_micro_benchmarks_run_once(tmp_path):
    out = tmp_path / "micro.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(BENCH_DIR, "test_micro.py"), "--benchmark-disable",
                           f"--benchmark-json={out}"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
