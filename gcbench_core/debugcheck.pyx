# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""debugcheck: deliberate mutator and heap bugs, so that tests can prove the debug build
catches them (GCBENCH_DEBUG=1 pip install .).  Not a workload: nothing registers it.

  use_after_free(heap)  the mutator keeps a pointer the collector cannot see (a missed
                        root), a collection frees that object, the mutator stores into
                        it: a debug build fails the run ("poisoned (freed) object").
  mark_free_slot(heap)  a mark bit is set on a slot that was never allocated (a marker
                        bug): a debug build's sweep fails the run (debug assertion).

In a release build neither is detected (that is the point of the debug build); do not
call them there, the first writes to freed memory.
"""
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, Span, run_kernel, span_of,
                                obj_index, GCB_DEBUG)
from gcbench_core.mutator cimport mut_alloc, mut_store, mut_store_null, mut_clear, mut_gc

DEBUG_BUILD = bool(GCB_DEBUG)

cdef void use_after_free_kernel(void* arg) noexcept nogil:
    cdef HeapState* heap = <HeapState*>arg
    cdef Object* stale
    mut_alloc(heap, 0, 1, 8)            # parent, a root
    mut_alloc(heap, 1, 0, 8)            # child
    mut_store(heap, 0, 0, 1)
    stale = heap.roots.stack[1]               # held where the collector cannot see it
    mut_clear(heap, 1)
    mut_store_null(heap, 0, 0)          # the child is now unreachable
    mut_gc(heap)                        # ... and freed
    heap.roots.stack[1] = stale
    mut_store(heap, 0, 0, 1)            # storing a freed object: caught in debug builds

cdef void mark_free_slot_kernel(void* arg) noexcept nogil:
    cdef HeapState* heap = <HeapState*>arg
    cdef Span* s
    cdef uint32_t i
    mut_alloc(heap, 0, 0, 8)
    s = span_of(heap, heap.roots.stack[0])
    i = obj_index(s, heap.roots.stack[0]) + 1     # the next slot: not allocated yet
    s.mark_bits[i >> 6] |= (<uint64_t>1) << (i & 63)
    mut_gc(heap)

from libc.stdint cimport uint32_t, uint64_t

def use_after_free(ManagedHeap heap):
    run_kernel(heap, use_after_free_kernel, heap.state)

def mark_free_slot(ManagedHeap heap):
    run_kernel(heap, mark_free_slot_kernel, heap.state)
