"""gcbench: a garbage-collector laboratory.

    import gcbench
    result = gcbench.run("marksweep", "binary-trees", verify=True)

Rooms (sub-packages): runs (one run), suite (pyperf suites), report (formatting, tables,
charts, reports), io (every file read or written).  Top level: cli (the command),
registry (collectors and workloads found in gcbench_core), metrics (figures computed from
results), units, errors.
"""
import os as _os

# OpenBLAS (pulled in by numpy) starts threads that spin after a numpy call and steal a
# core from the mutator and the mark worker on a small machine: gcbench uses no BLAS.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"



def run(*args, **kwargs):
    """Run a workload under a collector; see gcbench.runs.runner.run."""
    from .runs.runner import run as _run
    return _run(*args, **kwargs)


__all__ = ["run", "__version__"]
