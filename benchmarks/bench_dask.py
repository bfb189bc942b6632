#!/usr/bin/env python
"""A suite on Dask: one LocalCluster worker against two (issue 19).

    python benchmarks/bench_dask.py              # 8 equal configurations (about a minute)
    python benchmarks/bench_dask.py --smallest   # the same with tiny runs (smoke test)

Writes a suite of 8 equal configurations (marksweep on churn, seeds 1 to 8: the same
work each) and runs it with `gcbench suite --dask local:1`, then `--dask local:2`, each
into a temporary directory.  Prints each wall time, of the whole command (cluster start,
the tasks, the files, the report) and of its configurations alone (status tasks_wall_s:
first task to last result), and the ratios one worker / two workers, which are close to
2 on a machine with two idle cores and lower when the cores are shared; "under way on
average" (the tasks' own wall times over the configurations' wall time) shows how many
configurations ran at once, and "cores busy" (the CPU time of the command and every process
it waited for, over its wall time) that they overlapped on the CPU.  Exit code 1
when a suite fails.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = """
name = "dask-scaling"
seeds = [1, 2, 3, 4, 5, 6, 7, 8]
heap = ["64M"]
[[collector]]
name = "marksweep"
[[workload]]
name = "churn"
params = {{ live_objects = 20000, ops = {ops} }}
[pyperf]
processes = {processes}
values = 2
warmups = 0
loops = 1
"""


def run(suite_file, workers, tmp):
    out = Path(tmp) / f"workers-{workers}" / "suite.json"
    cmd = [sys.executable, "-m", "gcbench", "suite", str(suite_file), "-o", str(out),
           "--dask", f"local:{workers}", "--order-seed", "1"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the command and every process it waited for (workers, pyperf processes)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return wall, None, cpu
    status = json.loads((out.parent / "suite.status.json").read_text())
    done = sum(1 for e in status["configurations"].values() if e.get("status") == "done")
    task_s = sum(e["seconds"] for e in status["configurations"].values())
    return wall, (done, task_s, status["tasks_wall_s"]), cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smallest", action="store_true", help="tiny runs (the smoke test)")
    args = parser.parse_args()
    ops, processes = (50_000, 1) if args.smallest else (3_000_000, 4)
    with tempfile.TemporaryDirectory(prefix="gcbench-bench-dask-") as tmp:
        suite_file = Path(tmp) / "scaling.toml"
        suite_file.write_text(SUITE.format(ops=ops, processes=processes))
        print(f"8 equal configurations (churn, ops={ops}, {processes} pyperf processes each) "
              f"on a Dask LocalCluster; this machine has {os.cpu_count()} cores")
        walls = {}
        for workers in (1, 2):
            wall, outcome, cpu = run(suite_file, workers, tmp)
            if outcome is None:
                print(f"  {workers} worker(s): FAILED after {wall:.1f} s")
                return 1
            done, task_s, tasks_wall = outcome
            walls[workers] = (wall, tasks_wall)
            print(f"  {workers} worker{'s' if workers > 1 else ' '}  command {wall:6.1f} s "
                  f"(CPU {cpu:.1f} s: {cpu / wall:.2f} cores busy), "
                  f"configurations {tasks_wall:6.1f} s  ({done} done; {task_s:.1f} s of tasks, "
                  f"{task_s / tasks_wall:.2f} under way on average)")
    print(f"  one worker / two workers: command {walls[1][0] / walls[2][0]:.2f}x, "
          f"configurations {walls[1][1] / walls[2][1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
