"""gcbench suite --dask: a suite on a Dask LocalCluster (no external service) writes what a
local suite writes, survives a killed worker, stops on Ctrl-C and resumes locally; an
unreachable scheduler is refused before anything runs; compare groups by machine."""
import json
import os
import signal
import subprocess
import sys
import time

import pyperf
import pytest

from conftest import NEUTRAL_CWD, churn_suite, run_cli, write_suite as write

distributed = pytest.importorskip("distributed")

from gcbench.suite import suitefile                       # noqa: E402
from gcbench.suite.driver import configuration_order      # noqa: E402
from gcbench.suite.dask import task_key                   # noqa: E402
from gcbench.suite.tasks import MACHINE_KEYS, machine     # noqa: E402

SMALL = churn_suite("small", heap=("64M", "2x"))
SEEDS = churn_suite("seeds", seeds=(1, 2, 3), heap=("32M",), ops=300000)


def benchmarks(path):
    return {b.get_name(): b for b in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks()}


def status_of(path):
    return json.loads((path.parent / "suite.status.json").read_text())


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_dask_suite_writes_what_a_local_suite_writes(tmp_path):
    suite_file = write(tmp_path, SMALL)
    local, on_dask = tmp_path / "local" / "suite.json", tmp_path / "dask" / "suite.json"
    run_cli("suite", suite_file, "--fast", "-o", local, check=0)
    proc = run_cli("suite", "--fast", suite_file, "-o", on_dask, "--dask", "local:2", check=0)
    assert "dask local:2" in proc.stderr and "[4/4]" in proc.stderr

    local_benches, dask_benches = benchmarks(local), benchmarks(on_dask)
    assert local_benches.keys() == dask_benches.keys()
    assert len([n for n in dask_benches if not n.endswith("/pauses")]) == 4
    here = machine()
    for name, bench in dask_benches.items():
        meta = bench.get_metadata()
        # the same configuration and metadata keys as the local run, plus the machine keys
        local_keys = {k for k in local_benches[name].get_metadata() if not k.startswith("python_")}
        assert local_keys - set(MACHINE_KEYS) <= set(meta), name
        assert set(MACHINE_KEYS) <= set(meta)
        assert meta["machine_host"] == here["machine_host"]
        assert meta["machine_cpu_model"] == here["machine_cpu_model"]
        assert meta["gcbench_order_seed"] == status_of(on_dask)["order_seed"]
        for key in ("collector", "workload", "params", "heap", "heap_bytes", "gogc", "configuration"):
            assert meta[key] == local_benches[name].get_metadata()[key], (name, key)
    status = status_of(on_dask)
    assert status["finished"] and status["executor"] == "dask local:2"
    assert all(s["status"] == "done" for s in status["configurations"].values())
    assert {s["machine"] for s in status["configurations"].values()} == {here["machine_host"]}
    assert len(status["minheap"]) == 2         # the 2x heaps' searches ran as tasks
    for out in (on_dask.parent / "summary.txt", on_dask.parent / "report.html"):
        assert out.exists()
    run_files = list((on_dask.parent / "runs").glob("*.json"))
    assert len(run_files) == 4 and all("pauses_ns" in json.loads(p.read_text()) for p in run_files)
    stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(on_dask)], capture_output=True,
                           text=True, timeout=120, cwd=NEUTRAL_CWD)
    assert stats.returncode == 0 and "marksweep" in stats.stdout, stats.stderr


def test_configurations_run_in_the_seeded_order(tmp_path):
    suite_file = write(tmp_path, SEEDS)
    out = tmp_path / "o" / "suite.json"
    proc = run_cli("suite", suite_file, "--fast", "-o", out, "--order-seed", "7", check=0)
    # "[k/6] LABEL: outcome", the outcome on the next line when the whole exceeds 100 columns
    ran = [line.split("] ", 1)[1].split(":", 1)[0] for line in proc.stderr.splitlines()
           if line.startswith("[") and "/6] " in line]
    configs = suitefile.load(str(suite_file)).for_mode("fast")[0].configurations()
    assert ran == [c.name for c in configuration_order(configs, 7)]
    assert ran != [c.name for c in configs]          # seed 7 does not give the matrix order
    assert status_of(out)["order_seed"] == 7
    assert {b.get_metadata()["gcbench_order_seed"] for b in benchmarks(out).values()} == {7}
    # the suite JSON keeps the matrix order whatever order the configurations ran in
    names = [n for n in benchmarks(out) if not n.endswith("/pauses")]
    assert names == [c.name for c in configs]
    orders = {tuple(c.name for c in configuration_order(configs, seed)) for seed in range(5)}
    assert len(orders) > 1 and all(sorted(o) == sorted(names) for o in orders)


@pytest.fixture
def cluster():
    """A LocalCluster as an external scheduler: 2 single-threaded workers with bench=1; its
    scheduler gives up on a task at the first death of its worker, so the retry is
    gcbench's own."""
    import dask
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, resources={"bench": 1},
                                      dashboard_address=":0", processes=True) as cl:
            with distributed.Client(cl) as client:
                yield cl, client


def test_worker_killed_twice_mid_configuration_is_retried_then_failed(tmp_path, cluster):
    cl, client = cluster
    suite_file = write(tmp_path, SEEDS)
    out = tmp_path / "k" / "suite.json"
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", "suite", str(suite_file), "--fast", "-o", str(out),
                             "--dask", cl.scheduler_address, "--order-seed", "3"],
                            cwd=NEUTRAL_CWD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def running_configuration():
            # a configuration task under way: (its name in the key, its worker's pid)
            for address, keys in client.processing().items():
                for key in keys:
                    if "_heap=32M_gogc=100_seed=" in str(key):
                        try:
                            pids = client.run(os.getpid)
                        except Exception:        # a worker restarting: ask again
                            return None
                        if address in pids:
                            return str(key), pids[address]
            return None

        first_key, pid = wait_for(running_configuration, 120, "a configuration task")
        target = first_key.rsplit("-", 1)[0]
        time.sleep(0.3)                      # inside the pyperf run
        os.kill(pid, signal.SIGKILL)

        def retry_running():
            for address, keys in client.processing().items():
                for key in keys:
                    if str(key).startswith(target + "-") and str(key) != first_key:
                        try:
                            pid = client.run(os.getpid).get(address)
                        except Exception:        # a worker restarting: ask again
                            return None
                        if pid:
                            return str(key), pid
            return None

        second_key, pid = wait_for(retry_running, 120, "the configuration's retry")
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, stderr          # one configuration failed, the suite completed
    status = status_of(out)
    assert status["finished"]
    entries = status["configurations"]
    assert len(entries) == 6
    failed = {n: e for n, e in entries.items() if e["status"] == "failed"}
    assert len(failed) == 1, entries
    (name, entry), = failed.items()
    assert target == task_key(name).rsplit("-", 1)[0]          # the configuration killed twice
    assert "died during the task" in entry["error"] and "retried" in entry["error"]
    assert "worker" in entry["retried"]
    assert all(e["status"] == "done" for n, e in entries.items() if n != name)
    record = json.loads((out.parent / entry["run_file"]).read_text())
    assert record["failed"] and "died" in record["error"]
    assert name in (out.parent / "summary.txt").read_text()
    assert len([n for n in benchmarks(out) if not n.endswith("/pauses")]) == 5


def test_ctrl_c_on_a_dask_suite_then_resume_locally(tmp_path):
    psutil = pytest.importorskip("psutil")
    suite_file = write(tmp_path, SEEDS)
    out = tmp_path / "c" / "suite.json"
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", "suite", str(suite_file), "--fast", "-o", str(out),
                             "--dask", "local:2"],
                            cwd=NEUTRAL_CWD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def finished():
            try:
                return [n for n, e in json.loads((out.parent / "suite.status.json").read_text())
                        ["configurations"].items() if e.get("status") == "done"]
            except (OSError, ValueError, KeyError):
                return None
        wait_for(finished, 180, "a finished configuration")
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr
    # the cluster, its workers and their pyperf processes are gone
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.pid for p in alive]
    status = status_of(out)
    assert not status["finished"]
    kept = {n for n in benchmarks(out) if not n.endswith("/pauses")}
    assert 1 <= len(kept) < 6
    assert kept == {n for n, e in status["configurations"].items() if e["status"] == "done"}
    values = {n: benchmarks(out)[n].get_values() for n in kept}

    # resumed by a local suite: only the unfinished configurations run
    proc = run_cli("suite", suite_file, "--fast", "-o", out, "--resume", check=0)
    left = 6 - len(kept)
    assert f"{len(kept)} already finished" in proc.stderr and f"[{left}/{left}]" in proc.stderr
    assert status_of(out)["order_seed"] == status["order_seed"]
    done = benchmarks(out)
    assert len([n for n in done if not n.endswith("/pauses")]) == 6
    for name in kept:
        assert done[name].get_values() == values[name]
    assert status_of(out)["finished"] and status_of(out)["executor"] == "local"


def test_unreachable_scheduler_is_one_line_and_exit_2_before_anything_runs(tmp_path):
    import socket
    with socket.socket() as s:         # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    suite_file = write(tmp_path, SMALL)
    out = tmp_path / "u" / "suite.json"
    proc = run_cli("suite", suite_file, "--fast", "-o", out, "--dask", f"tcp://127.0.0.1:{port}", check=2)
    assert proc.stderr.count("\n") == 1 and "cannot reach the Dask scheduler" in proc.stderr
    assert not out.parent.exists()
    for bad in ("local:0", "two words"):
        proc = run_cli("suite", suite_file, "--fast", "-o", out, "--dask", bad, check=2)
        assert proc.stderr.count("\n") == 1


def test_without_distributed_a_one_line_hint(monkeypatch):
    from gcbench.errors import UsageError
    from gcbench.suite.dask import DaskExecutor
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError, match=r"pip install 'gcbench\[dask\]'"):
        DaskExecutor.connect("local:1")


def _as_other_machine(path, dest, collector, cpu):
    """A copy of a suite JSON whose `collector` benchmarks say they ran on another CPU."""
    data = json.loads(path.read_text())
    for bench in data["benchmarks"]:
        metas = [bench.get("metadata", {})] + [run.get("metadata", {}) for run in bench["runs"]]
        common = data.get("metadata", {})
        if any(m.get("collector") == collector for m in metas + [common]):
            for m in [bench.setdefault("metadata", {})] + [run.setdefault("metadata", {}) for run in bench["runs"]]:
                m["machine_cpu_model"] = cpu
                m["machine_host"] = "other-host"
    dest.write_text(json.dumps(data))      # beside the original: the same run files
    return dest


def test_compare_keeps_ratios_within_one_cpu_model(tmp_path):
    suite_file = write(tmp_path, SMALL)
    out = tmp_path / "m" / "suite.json"
    run_cli("suite", suite_file, "--fast", "-o", out, check=0)
    mixed = _as_other_machine(out, out.parent / "mixed.json", "nogc", "Imaginary CPU 9000")
    text = run_cli("compare", mixed, check=0).stdout
    assert "[m1]" in text and "[m2]" in text
    assert "m2: Imaginary CPU 9000 (host other-host)" in text
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(run_cli("compare", mixed, "--format", "csv", check=0).stdout)))
    assert len(rows) == 4                          # 2 configurations x 2 machines
    for row in rows:
        # nogc (m2) and marksweep (m1) never share a row, so no ratio crosses CPU models
        assert (row["marksweep:status"] == "ok") != (row["nogc:status"] == "ok")
        assert row["nogc:relative_time"] == ""
    rows = list(csv.DictReader(io.StringIO(
        run_cli("compare", mixed, "--format", "csv", "--across-machines", check=0).stdout)))
    assert len(rows) == 2 and all(float(row["nogc:relative_time"]) > 0 for row in rows)
    same = run_cli("compare", out, check=0).stdout
    assert "[m1]" not in same and "grouped by machine" not in same
