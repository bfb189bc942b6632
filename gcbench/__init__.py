"""gcbench: a garbage-collector laboratory.

    import gcbench
    result = gcbench.run("marksweep", "binary-trees", verify=True)
"""
import os as _os

# OpenBLAS (pulled in by numpy) starts threads that spin after a numpy call and steal a
# core from the mutator and the mark worker on a small machine: gcbench uses no BLAS.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"


def run(*args, **kwargs):
    """See gcbench.runner.run."""
    from .runner import run as _run
    return _run(*args, **kwargs)
