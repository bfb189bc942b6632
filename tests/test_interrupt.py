"""Ctrl-C: SIGINT during a long native run ends it within a second, with exit code 130,
one line on stderr and no result file (neither --json nor --timeline, nor a temporary).

Each case is a run that would take minutes; the signal arrives while the kernel runs
(GIL released, the C handler of heap.pyx sets a flag that the mutator's safepoint poll,
or a workload's own check in a loop without mutator operations, turns into a failure).
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from gcbench import registry
from conftest import interrupt

STOP_WITHIN_S = 1.0

LONG_RUNS = {
    "churn": ["-w", "churn", "--param", "ops=10000000000"],
    "binary-trees": ["-w", "binary-trees", "--param", "max_depth=24", "--param",
                     "long_lived_depth=18", "--heap", "1G"],
    # a request fills a 16 MiB buffer with few mutator operations between polls
    "server-big-buffers": ["-w", "server", "--param", "buffer_bytes=16777216", "--param",
                           "small_objects=0", "--param", "cache_keep=0", "--param",
                           "requests=10000000", "--heap", "512M"],
    # one request a second (the slowest schedule there is): the run is waiting for an
    # arrival, not running mutator ops
    "server-slow-schedule": ["-w", "server", "--param", "rate=1", "--param", "requests=100000"],
}


def start(args, tmp_path):
    return subprocess.Popen([sys.executable, "-m", "gcbench", "run", *args,
                             "--json", str(tmp_path / "r.json"),
                             "--timeline", str(tmp_path / "t.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(tmp_path), env={**os.environ, "PYTHONUNBUFFERED": "1"})


def interrupt_and_check(proc, tmp_path, warmup_s, signum=signal.SIGINT):
    time.sleep(warmup_s)
    elapsed, _, stderr = interrupt(proc, 10, signum)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr == "gcbench: interrupted\n", stderr
    assert elapsed < STOP_WITHIN_S, elapsed
    assert os.listdir(tmp_path) == [], os.listdir(tmp_path)


@pytest.mark.parametrize("case", sorted(LONG_RUNS))
def test_sigint_stops_a_long_run(case, tmp_path):
    proc = start(["-c", "marksweep", *LONG_RUNS[case]], tmp_path)
    interrupt_and_check(proc, tmp_path, warmup_s=1.5)


def test_sigterm_stops_a_long_run_as_ctrl_c_does(tmp_path):
    # without the native handler for SIGTERM the process dies at once (exit -15), and a
    # SIGTERM while the outputs are written leaves a temporary file behind
    proc = start(["-c", "marksweep", *LONG_RUNS["churn"]], tmp_path)
    interrupt_and_check(proc, tmp_path, warmup_s=1.5, signum=signal.SIGTERM)


@pytest.mark.parametrize("collector", ["nogc", "malloc", "boehm"])
def test_sigint_stops_every_collector(collector, tmp_path):
    entry = registry.collectors().get(collector)
    if entry is None or not entry.available:
        pytest.skip(f"{collector} not available")
    proc = start(["-c", collector, "-w", "churn", "--param", "ops=10000000000", "--param",
                  "mutate_fraction=0", "--heap", "4G"], tmp_path)
    interrupt_and_check(proc, tmp_path, warmup_s=1.5)


def test_ctrl_c_while_parsing_or_importing(monkeypatch, capsys):
    # before the kernel runs, Ctrl-C is Python's KeyboardInterrupt: same line, same code,
    # whether it lands in main() (parsing) or in `python -m gcbench` itself (importing)
    import runpy
    from gcbench import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["list"]) == 130
    assert capsys.readouterr().err == "gcbench: interrupted\n"
    monkeypatch.setattr(cli, "main", interrupted)
    with pytest.raises(SystemExit) as info:
        runpy.run_module("gcbench", run_name="__main__")
    assert info.value.code == 130
    assert capsys.readouterr().err == "gcbench: interrupted\n"


def test_a_run_after_an_interrupted_one_works():
    # the C handler is removed after a run: the flag does not leak into the next run
    import threading
    import gcbench
    from gcbench.errors import Interrupted
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(Interrupted):
        gcbench.run("marksweep", "churn", params={"ops": 10_000_000_000})
    timer.join()
    result = gcbench.run("marksweep", "churn", params={"live_objects": 100, "ops": 1000})
    assert result["alloc_count"] == 1101
