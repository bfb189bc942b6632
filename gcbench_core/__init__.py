"""gcbench_core: the compiled kernels of gcbench (heap, mutator, collectors, workloads)."""

import os as _os

# See gcbench/__init__.py: keep OpenBLAS's spinning threads off the cores being measured.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
