# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""nogc: never collects.

The baseline that shows the mutator's own cost: allocation is the same fast path as
every other collector's, stores take the same (never taken) barrier test, and the heap
simply fills up.  A run that outgrows the heap ends with "heap exhausted".
"""
from libc.stdint cimport INT64_MAX
from gcbench_core.heap cimport HeapState, ManagedHeap

NAME = "nogc"
DESCRIPTION = "never collects: the mutator's own cost (needs a heap that holds every allocation)"
OPTIONS = {}
RECLAIMS_EXACTLY = False     # never frees

cdef void nogc_alloc_hook(HeapState* heap) noexcept nogil:
    heap.next_poll_bytes = INT64_MAX

cdef void nogc_nothing(HeapState* heap) noexcept nogil:
    pass

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* state = heap.state
    state.collector.name = b"nogc"
    state.collector.alloc_hook = nogc_alloc_hook
    state.collector.out_of_memory = nogc_nothing
    state.collector.collect = nogc_nothing
    state.collector.finish = nogc_nothing
    state.collector.destroy = nogc_nothing
    state.next_poll_bytes = INT64_MAX
