# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""nogc: never collects.

The baseline that shows the mutator's own cost: allocation is the same fast path as
every other collector's, stores take the same (never taken) barrier test, and the heap
simply fills up.  A run that outgrows the heap ends with "heap exhausted".
"""
from libc.stdint cimport INT64_MAX
from gcbench_core.plan import PlanConstraints
from gcbench_core.heap cimport collector_noop, collector_never_collects, HeapState, ManagedHeap

NAME = "nogc"
DESCRIPTION = "never collects: the mutator's own cost (needs a heap that holds every allocation)"
OPTIONS = {}
CONSTRAINTS = PlanConstraints(reclaims_exactly=False, honours_stress=False)     # never frees

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* state = heap.state
    state.collector.name = b"nogc"
    state.collector.alloc_hook = collector_never_collects
    state.collector.out_of_memory = collector_noop
    state.collector.collect = collector_noop
    state.collector.finish = collector_noop
    state.collector.destroy = collector_noop
    state.next_poll_bytes = INT64_MAX
