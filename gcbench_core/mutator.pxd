# cython: language_level=3
#
# mutator.pxd: the operations a workload performs, inline, over the mutator's stack
# slots ("registers"), globals and heap slots.  Every workload is written with these
# and nothing else, so that every collector sees the same operation stream, and so
# that the stream can be recorded as a trace (alloc / store / load / clear / gc).
#
#   stack slots: plain stores, no barrier (as in Go); collectors scan them in pauses.
#   globals and heap slots: every store goes through the write barrier, whose fast
#   path is one test of heap.barrier_on; the shading itself is the collector's slow path.
#
# Each operation counts as one mutator operation and is a safepoint candidate.

from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport (HeapState, Object, obj_slots, heap_alloc, heap_poll_slow,
                                gcb_unlikely, gcb_load_ptr, gcb_store_ptr, GCB_DEBUG,
                                obj_is_poisoned, heap_fail_poisoned)

# Debug builds only (GCB_DEBUG is a C constant: release builds compile this to nothing):
# an object the mutator reads or writes must not be one the collector freed.
cdef inline void mut_check_live(HeapState* heap, Object* obj, const char* operation) noexcept nogil:
    if GCB_DEBUG:
        if obj != NULL and obj_is_poisoned(obj):
            heap_fail_poisoned(heap, obj, operation)

cdef inline void mut_tick(HeapState* heap) noexcept nogil:
    heap.mutator_ops += 1
    if gcb_unlikely(heap.mutator_ops >= heap.next_poll_ops):
        heap_poll_slow(heap)

# *slot = value for a heap or global slot, through the write barrier.
cdef inline void heap_write(HeapState* heap, Object** slot, Object* value) noexcept nogil:
    if gcb_unlikely(heap.barrier_on):
        heap.collector.write_barrier(heap, slot, value)
    gcb_store_ptr(<void**>slot, value)

# stack[r] := new object with `nslots` pointer slots (NULL) and `payload` bytes.
cdef inline Object* mut_alloc(HeapState* heap, int r, uint32_t nslots, uint32_t payload) noexcept nogil:
    cdef Object* obj = heap_alloc(heap, nslots, payload)
    heap.stack[r] = obj
    mut_tick(heap)
    return obj

# slot `slot` of stack[r] := stack[s]
cdef inline void mut_store(HeapState* heap, int r, uint32_t slot, int s) noexcept nogil:
    mut_check_live(heap, heap.stack[r], "store into")
    mut_check_live(heap, heap.stack[s], "store of")
    heap_write(heap, obj_slots(heap.stack[r]) + slot, heap.stack[s])
    mut_tick(heap)

# slot `slot` of stack[r] := NULL
cdef inline void mut_store_null(HeapState* heap, int r, uint32_t slot) noexcept nogil:
    mut_check_live(heap, heap.stack[r], "store into")
    heap_write(heap, obj_slots(heap.stack[r]) + slot, NULL)
    mut_tick(heap)

# stack[r] := slot `slot` of stack[s]
cdef inline Object* mut_load(HeapState* heap, int r, int s, uint32_t slot) noexcept nogil:
    mut_check_live(heap, heap.stack[s], "load from")
    cdef Object* value = <Object*>gcb_load_ptr(<void**>(obj_slots(heap.stack[s]) + slot))
    mut_check_live(heap, value, "load of")
    heap.stack[r] = value
    mut_tick(heap)
    return value

# stack[r] := NULL
cdef inline void mut_clear(HeapState* heap, int r) noexcept nogil:
    heap.stack[r] = NULL
    mut_tick(heap)

# globals[g] := stack[r], through the barrier (globals are not stacks)
cdef inline void mut_set_global(HeapState* heap, int g, int r) noexcept nogil:
    mut_check_live(heap, heap.stack[r], "store to a global of")
    heap_write(heap, &heap.globals[g], heap.stack[r])
    mut_tick(heap)

# stack[r] := globals[g]
cdef inline Object* mut_get_global(HeapState* heap, int r, int g) noexcept nogil:
    cdef Object* value = <Object*>gcb_load_ptr(<void**>&heap.globals[g])
    mut_check_live(heap, value, "load from a global of")
    heap.stack[r] = value
    mut_tick(heap)
    return value

# The payload of stack[r], for workloads that touch their objects' data.
cdef inline char* mut_payload(HeapState* heap, int r) noexcept nogil:
    cdef Object* obj = heap.stack[r]
    mut_check_live(heap, obj, "payload access to")
    return <char*>(obj_slots(obj) + obj.nslots)

# The workload knows that stack[r] is dead (and, when `recursive`, everything reachable
# from it, which it owned alone): collectors ignore this; `malloc` frees them now.
cdef inline void mut_drop(HeapState* heap, int r, bint recursive) noexcept nogil:
    if heap.collector.drop != NULL and heap.stack[r] != NULL:
        heap.collector.drop(heap, heap.stack[r], recursive)
    heap.stack[r] = NULL
    mut_tick(heap)

# runtime.GC(): a full collection to completion.
cdef inline void mut_gc(HeapState* heap) noexcept nogil:
    heap.collector.collect(heap)
    mut_tick(heap)
