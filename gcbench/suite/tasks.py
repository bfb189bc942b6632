"""The two units of work of a suite, as either executor runs them (suite.executor, suite.dask).

- `configuration_task(spec, mode_flag)`: one configuration under pyperf (the same worker
  program, suite.worker, as a subprocess of whoever runs the task), in a scratch
  directory of its own; returns everything the driver writes: the throughput benchmark
  (pyperf JSON), the recorded run (or its failure record), the outcome and the machine.
- `minheap_task(config_json)`: one minimum-heap search (runs.minheap), in a subprocess
  (`python -m gcbench.suite.tasks minheap IN OUT`), so a Dask worker's threads never fork.

Both return plain data (they cross the network on Dask) and write no result file: the
driver alone writes results, whichever executor ran the task.  `machine()` is what is
recorded of the machine that ran a configuration (pyperf metadata machine_*).
"""
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

from ..io.machine import cpu_model

MACHINE_KEYS = ("machine_host", "machine_cpu_model", "machine_cores", "machine_kernel",
                "machine_gcbench_version")


def machine():
    """The machine running this process, as pyperf metadata (non-empty values)."""
    from .. import __version__
    return {"machine_host": socket.gethostname() or "unknown",
            "machine_cpu_model": cpu_model() or platform.processor() or platform.machine() or "unknown",
            "machine_cores": os.cpu_count() or 1,
            "machine_kernel": f"{platform.system()} {platform.release()}".strip() or "unknown",
            "machine_gcbench_version": __version__}


def configuration_task(spec, mode_flag):
    """Run one configuration; returns {"bench": pyperf JSON text or None, "run": the run
    file's content or None, "error": None or why it failed, "applicable": bool,
    "machine": machine()}.  spec["run_file"] is ignored: the run file is written here to
    a scratch directory and returned."""
    from ..runs.runner import build_info
    from ..io import store
    from .driver import NotApplicable, run_configuration
    here = machine()
    build = build_info()
    metadata = {**spec["metadata"], **here, "gcbench_version": build["gcbench_version"],
                "compiler": build["compiler"] or "unknown", "cflags": build["cflags"] or "none"}
    out = {"bench": None, "run": None, "error": None, "applicable": True, "machine": here,
           "metadata": metadata}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gcbench-task-") as work_dir:
        run_file = os.path.join(work_dir, "run.json")
        task_spec = dict(spec, metadata=metadata, run_file=run_file)
        try:
            bench, error = run_configuration(task_spec, work_dir, mode_flag)
        except NotApplicable as exc:
            out.update(error=str(exc), applicable=False)
        else:
            out["error"] = error
            if bench is not None:
                with open(os.path.join(work_dir, "bench.json")) as f:
                    out["bench"] = f.read()
        out["run"] = store.read_json_or_none(run_file)
    out["seconds"] = time.monotonic() - start
    return out


def minheap_task(config_json):
    """The minimum heap of a run configuration: {"bytes", "probes", "seconds"}, or
    {"error"} (no heap works), with "applicable": False when the combination is refused."""
    from ..io.atomic import write_json_atomic
    from ..io.store import read_json_or_none
    with tempfile.TemporaryDirectory(prefix="gcbench-minheap-") as work_dir:
        in_path = os.path.join(work_dir, "config.json")
        out_path = os.path.join(work_dir, "minheap.json")
        write_json_atomic(in_path, config_json)
        from ..runs.children import run_child
        returncode, _, stderr = run_child([sys.executable, "-m", "gcbench.suite.tasks", "minheap", in_path, out_path],
                                 cwd=work_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found = read_json_or_none(out_path)
    if not isinstance(found, dict):
        lines = [line for line in (stderr or "").splitlines() if line.strip()]
        return {"error": f"minimum-heap search failed: "
                         f"{lines[-1].strip() if lines else f'exit code {returncode}'}"}
    return {**found, "host": machine()["machine_host"]}


def _minheap_main(in_path, out_path):
    from ..errors import RunError, UsageError
    from ..io.atomic import write_json_atomic
    from ..io.store import read_json
    from ..runs.config import RunConfig
    from ..runs.minheap import find_min_heap
    start = time.monotonic()
    try:
        found, search = find_min_heap(RunConfig.from_json(read_json(in_path)))
    except UsageError as exc:
        result = {"error": str(exc), "applicable": False}
    except RunError as exc:
        result = {"error": str(exc)}
    else:
        result = {"bytes": int(found), "probes": len(search.probes),
                  "seconds": round(time.monotonic() - start, 3)}
    write_json_atomic(out_path, result)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "minheap":
        print("usage: python -m gcbench.suite.tasks minheap CONFIG.json OUT.json", file=sys.stderr)
        sys.exit(2)
    sys.exit(_minheap_main(sys.argv[2], sys.argv[3]))
