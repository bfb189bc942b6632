# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""nogc: never collects.

The baseline that shows the mutator's own cost: allocation is the same fast path as
every other collector's, stores take the same (never taken) barrier test, and the heap
simply fills up.  A run that outgrows the heap ends with "heap exhausted".  The plan is
the heap's default collector record (collector_init): no hook does anything.
"""
from gcbench_core.plan import PlanConstraints
from gcbench_core.heap cimport ManagedHeap, collector_init

NAME = "nogc"
DESCRIPTION = "never collects: the mutator's own cost (needs a heap that holds every allocation)"
OPTIONS = {}
CONSTRAINTS = PlanConstraints(reclaims_exactly=False, honours_stress=False,    # never frees
                             multi_mutator=True)

def attach(ManagedHeap heap, dict opts):
    collector_init(heap, NAME)
