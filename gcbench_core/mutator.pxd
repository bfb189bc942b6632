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
#
# Recording (`gcbench record`): every operation first tests heap.trace != NULL (one
# predictable branch) and, when recording, appends one TraceRecord (heap.pxd).  A
# workload's own mut_tick() is recorded too (as `tick`), so a replay performs the same
# mutator operations, and so reaches the same safepoints, as the original.

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport (HeapState, Object, obj_slots, heap_alloc, heap_poll_slow,
                                heap_trace_append, gcb_unlikely, gcb_load_ptr, gcb_store_ptr,
                                TRACE_ALLOC, TRACE_STORE, TRACE_LOAD, TRACE_CLEAR, TRACE_GC,
                                TRACE_GSET, TRACE_GGET, TRACE_TICK, TRACE_NULL, TRACE_DROP,
                                TRACE_RECURSIVE,
                                GCB_DEBUG, obj_is_poisoned, heap_fail_poisoned)

# Debug builds only (GCB_DEBUG is a C constant: release builds compile this to nothing):
# an object the mutator reads or writes must not be one the collector freed.
cdef inline void mut_check_live(HeapState* heap, Object* obj, const char* operation) noexcept nogil:
    if GCB_DEBUG:
        if obj != NULL and obj_is_poisoned(obj):
            heap_fail_poisoned(heap, obj, operation)

cdef inline void mut_record(HeapState* heap, uint8_t op, int a, int b, uint8_t flags,
                            uint32_t x, uint32_t y) noexcept nogil:
    if gcb_unlikely(heap.trace != NULL):
        heap_trace_append(heap, op, <uint8_t>a, <uint8_t>b, flags, x, y)

# Count one mutator operation; poll the collector every poll_interval_ops of them.
cdef inline void mut_safepoint(HeapState* heap) noexcept nogil:
    heap.mutator_ops += 1
    if gcb_unlikely(heap.mutator_ops >= heap.next_poll_ops):
        heap_poll_slow(heap)

# One mutator operation with no heap effect (work on non-heap data), recorded as `tick`.
cdef inline void mut_tick(HeapState* heap) noexcept nogil:
    mut_record(heap, TRACE_TICK, 0, 0, 0, 1, 0)
    mut_safepoint(heap)

# *slot = value for a heap or global slot, through the write barrier.
cdef inline void heap_write(HeapState* heap, Object** slot, Object* value) noexcept nogil:
    if gcb_unlikely(heap.barrier_on):
        heap.collector.write_barrier(heap, slot, value)
    gcb_store_ptr(<void**>slot, value)

# stack[r] := new object with `nslots` pointer slots (NULL) and `payload` bytes.
cdef inline Object* mut_alloc(HeapState* heap, int r, uint32_t nslots, uint32_t payload) noexcept nogil:
    mut_record(heap, TRACE_ALLOC, r, 0, 0, nslots, payload)
    cdef Object* obj = heap_alloc(heap, nslots, payload)
    heap.roots.stack[r] = obj
    mut_safepoint(heap)
    return obj

# slot `slot` of stack[r] := stack[s]
cdef inline void mut_store(HeapState* heap, int r, uint32_t slot, int s) noexcept nogil:
    mut_record(heap, TRACE_STORE, r, s, 0, slot, 0)
    mut_check_live(heap, heap.roots.stack[r], "store into")
    mut_check_live(heap, heap.roots.stack[s], "store of")
    heap_write(heap, obj_slots(heap.roots.stack[r]) + slot, heap.roots.stack[s])
    mut_safepoint(heap)

# slot `slot` of stack[r] := NULL
cdef inline void mut_store_null(HeapState* heap, int r, uint32_t slot) noexcept nogil:
    mut_record(heap, TRACE_STORE, r, 0, TRACE_NULL, slot, 0)
    mut_check_live(heap, heap.roots.stack[r], "store into")
    heap_write(heap, obj_slots(heap.roots.stack[r]) + slot, NULL)
    mut_safepoint(heap)

# stack[r] := slot `slot` of stack[s]
cdef inline Object* mut_load(HeapState* heap, int r, int s, uint32_t slot) noexcept nogil:
    mut_record(heap, TRACE_LOAD, r, s, 0, slot, 0)
    mut_check_live(heap, heap.roots.stack[s], "load from")
    cdef Object* value = <Object*>gcb_load_ptr(<void**>(obj_slots(heap.roots.stack[s]) + slot))
    mut_check_live(heap, value, "load of")
    heap.roots.stack[r] = value
    mut_safepoint(heap)
    return value

# stack[r] := NULL
cdef inline void mut_clear(HeapState* heap, int r) noexcept nogil:
    mut_record(heap, TRACE_CLEAR, r, 0, 0, 0, 0)
    heap.roots.stack[r] = NULL
    mut_safepoint(heap)

# globals[g] := stack[r], through the barrier (globals are not stacks)
cdef inline void mut_set_global(HeapState* heap, int g, int r) noexcept nogil:
    mut_record(heap, TRACE_GSET, g, r, 0, 0, 0)
    mut_check_live(heap, heap.roots.stack[r], "store to a global of")
    heap_write(heap, &heap.roots.globals[g], heap.roots.stack[r])
    mut_safepoint(heap)

# stack[r] := globals[g]
cdef inline Object* mut_get_global(HeapState* heap, int r, int g) noexcept nogil:
    mut_record(heap, TRACE_GGET, r, g, 0, 0, 0)
    cdef Object* value = <Object*>gcb_load_ptr(<void**>&heap.roots.globals[g])
    mut_check_live(heap, value, "load from a global of")
    heap.roots.stack[r] = value
    mut_safepoint(heap)
    return value

# The payload of stack[r], for workloads that touch their objects' data.
cdef inline char* mut_payload(HeapState* heap, int r) noexcept nogil:
    cdef Object* obj = heap.roots.stack[r]
    mut_check_live(heap, obj, "payload access to")
    return <char*>(obj_slots(obj) + obj.nslots)

# The workload knows that stack[r] is dead (and, when `recursive`, everything reachable
# from it, which it owned alone): collectors ignore this; `malloc` frees them now.
cdef inline void mut_drop(HeapState* heap, int r, bint recursive) noexcept nogil:
    # recorded as a drop: a replay clears the root, and under malloc frees the object
    mut_record(heap, TRACE_DROP, r, 0, TRACE_RECURSIVE if recursive else 0, 0, 0)
    if heap.collector.drop != NULL and heap.roots.stack[r] != NULL:
        heap.collector.drop(heap, heap.roots.stack[r], recursive)
    heap.roots.stack[r] = NULL
    mut_safepoint(heap)

# runtime.GC(): a full collection to completion.
cdef inline void mut_gc(HeapState* heap) noexcept nogil:
    mut_record(heap, TRACE_GC, 0, 0, 0, 0, 0)
    heap.collector.collect(heap)
    mut_safepoint(heap)
