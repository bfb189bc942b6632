"""boehm: the Boehm-Demers-Weiser conservative collector (libgc) as a baseline.

The workloads' objects are allocated as a C program allocates them from libgc:
GC_MALLOC for objects with pointer slots, GC_MALLOC_ATOMIC for pointer-free ones, with
interior pointers off (objects are referenced by their start); the roots are exactly the
mutator's stack slots, globals and extra root ranges.  libgc decides when to collect
(its heap grows until free space / heap < 1 / free_space_divisor), marks
conservatively from the roots and sweeps lazily at allocation.  Pauses are its
collection events, from GC_EVENT_START to GC_EVENT_END; each cycle's live bytes and
objects are what that collection marked.  benchmarks/fidelity.py runs the same
programs natively on libgc beside it.  Built only when libgc's headers are present
(Debian: libgc-dev); otherwise listed as unavailable.
"""
from gcbench_core.plan import PlanConstraints

NAME = "boehm"
DESCRIPTION = "Boehm-Demers-Weiser conservative mark-sweep (libgc), paused from its collection events"
OPTIONS = {
    "free_space_divisor": {"type": "int", "default": 3, "min": 1, "max": 1000,
                           "help": "libgc's GC_free_space_divisor: collect when free space falls below "
                                   "heap / N (larger: smaller heap, more collections); GOGC does not apply"},
}
# Outside the arena (so --verify cannot check it); conservative: a full collection may
# keep what looks like a pointer.  libgc has one heap per process: a run leaves it grown
# and fragmented for the next, so a tight heap that one run fits can fail the second.
# Benchmarks give each run its own process (gcbench suite's pyperf workers run one value
# each; minheap forks per probe).
CONSTRAINTS = PlanConstraints(uses_arena=False, reclaims_exactly=False, one_run_per_process=True)

try:
    from . import _boehm
    AVAILABLE = True
    UNAVAILABLE_REASON = ""
except ImportError:
    _boehm = None
    AVAILABLE = False
    UNAVAILABLE_REASON = "libgc was not found at build time: install libgc-dev (apt-get install libgc-dev), then reinstall gcbench"


def attach(heap, opts):
    if _boehm is None:
        raise RuntimeError(UNAVAILABLE_REASON)
    _boehm.attach(heap, opts, NAME)
