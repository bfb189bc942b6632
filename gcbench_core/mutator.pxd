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
# Stack-slot writes go through mut_set_stack: one test of heap.count_stack (a predictable
# branch, never taken except under reference counting, which counts local references as
# CPython does) and otherwise the plain store.
#
# Moving collectors (semispace, gencopy) move objects at safepoints.  An Object* that an
# operation returns (mut_alloc, mut_load, mut_get_global) or that mut_payload gives is
# valid only until the next mutator operation: every operation may collect, and a
# collection updates the roots (stack slots, globals, extra roots such as the Pool's) and
# heap slots, never a C local.  A pointer a workload keeps across an operation lives in a
# stack slot (or a global) and is read again from there (`heap.roots.stack[r]`,
# mut_payload(heap, r)).  Debug builds poison the old copies, so a stale pointer fails at
# its next use with the operation that used it (debugcheck.stale_pointer_bug proves it).
#
# Mutator threads (a multi-threaded workload's threads besides the run's own): the mt_*
# operations below are the same operations over a MutatorThread (heap.pxd), with its own
# stack slots (m.stack[r]) and allocation cache.  Their safepoint is the same one test:
# m.ops against m.next_poll_ops, which a stop request sets to 0, so the thread's next
# operation takes mt_poll_slow and parks.  mt_blocked_enter / mt_blocked_leave bracket
# work outside the heap (Go's entersyscall / exitsyscall: "waiting on I/O"): the thread
# counts as stopped meanwhile and touches no heap object.  Thread operations are not
# recorded (a trace is one operation stream), and stack writes are plain (plans that
# count stack references refuse threads).
#
# A workload that runs on both writes its code once over the fused type Mutator (the
# op_* operations at the end of this file), compiled once for each.
#
# Recording (`gcbench record`): every operation first tests heap.trace != NULL (one
# predictable branch) and, when recording, appends one TraceRecord (heap.pxd).  A
# workload's own mut_tick() is recorded too (as `tick`), so a replay performs the same
# mutator operations, and so reaches the same safepoints, as the original.

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport (HeapState, Object, obj_slots, heap_alloc, heap_poll_slow,
                                MutatorThread, mt_heap_alloc, mt_poll_slow, mt_collect, mt_enter_blocked,
                                mt_leave_blocked, gcb_load_i64_relaxed,
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

# stack[r] := value: the plain store, or the plan's counted store (collector.stack_write).
cdef inline void mut_set_stack(HeapState* heap, int r, Object* value) noexcept nogil:
    if gcb_unlikely(heap.count_stack):
        heap.collector.stack_write(heap, r, value)
    else:
        heap.roots.stack[r] = value

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
    mut_set_stack(heap, r, obj)
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
    mut_set_stack(heap, r, value)
    mut_safepoint(heap)
    return value

# stack[r] := NULL
cdef inline void mut_clear(HeapState* heap, int r) noexcept nogil:
    mut_record(heap, TRACE_CLEAR, r, 0, 0, 0, 0)
    mut_set_stack(heap, r, NULL)
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
    mut_set_stack(heap, r, value)
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
    mut_set_stack(heap, r, NULL)
    mut_safepoint(heap)

# runtime.GC(): a full collection to completion.
cdef inline void mut_gc(HeapState* heap) noexcept nogil:
    mut_record(heap, TRACE_GC, 0, 0, 0, 0, 0)
    heap.collector.collect(heap)
    mut_safepoint(heap)


# ---------------------------------------------------------------------------
# The same operations on a mutator thread (see the top of this file).

cdef inline void mt_safepoint(MutatorThread* m) noexcept nogil:
    m.ops += 1
    if gcb_unlikely(m.ops >= gcb_load_i64_relaxed(&m.next_poll_ops)):
        mt_poll_slow(m)

cdef inline void mt_tick(MutatorThread* m) noexcept nogil:
    mt_safepoint(m)

# m.stack[r] := new object with `nslots` pointer slots (NULL) and `payload` bytes.
cdef inline Object* mt_alloc(MutatorThread* m, int r, uint32_t nslots, uint32_t payload) noexcept nogil:
    cdef Object* obj = mt_heap_alloc(m, nslots, payload)
    m.stack[r] = obj
    mt_safepoint(m)
    return obj

# *slot = value through the barrier, on a mutator thread: the plan's per-thread slow path
# when it has one (its own grey buffer), else the heap's.
cdef inline void mt_heap_write(MutatorThread* m, Object** slot, Object* value) noexcept nogil:
    cdef HeapState* heap = m.heap
    if gcb_unlikely(heap.barrier_on):
        if heap.collector.thread_write_barrier != NULL:
            heap.collector.thread_write_barrier(heap, m, slot, value)
        else:
            heap.collector.write_barrier(heap, slot, value)
    gcb_store_ptr(<void**>slot, value)

# slot `slot` of m.stack[r] := m.stack[s]
cdef inline void mt_store(MutatorThread* m, int r, uint32_t slot, int s) noexcept nogil:
    mut_check_live(m.heap, m.stack[r], "store into")
    mut_check_live(m.heap, m.stack[s], "store of")
    mt_heap_write(m, obj_slots(m.stack[r]) + slot, m.stack[s])
    mt_safepoint(m)

# m.stack[r] := slot `slot` of m.stack[s]
cdef inline Object* mt_load(MutatorThread* m, int r, int s, uint32_t slot) noexcept nogil:
    mut_check_live(m.heap, m.stack[s], "load from")
    cdef Object* value = <Object*>gcb_load_ptr(<void**>(obj_slots(m.stack[s]) + slot))
    mut_check_live(m.heap, value, "load of")
    m.stack[r] = value
    mt_safepoint(m)
    return value

# slot `slot` of m.stack[r] := NULL
cdef inline void mt_store_null(MutatorThread* m, int r, uint32_t slot) noexcept nogil:
    mut_check_live(m.heap, m.stack[r], "store into")
    mt_heap_write(m, obj_slots(m.stack[r]) + slot, NULL)
    mt_safepoint(m)

# m.stack[r] := NULL
cdef inline void mt_clear(MutatorThread* m, int r) noexcept nogil:
    m.stack[r] = NULL
    mt_safepoint(m)

# globals[g] := m.stack[r], through the barrier (globals are shared by every thread)
cdef inline void mt_set_global(MutatorThread* m, int g, int r) noexcept nogil:
    mut_check_live(m.heap, m.stack[r], "store to a global of")
    mt_heap_write(m, &m.heap.roots.globals[g], m.stack[r])
    mt_safepoint(m)

# m.stack[r] := globals[g]
cdef inline Object* mt_get_global(MutatorThread* m, int r, int g) noexcept nogil:
    cdef Object* value = <Object*>gcb_load_ptr(<void**>&m.heap.roots.globals[g])
    mut_check_live(m.heap, value, "load from a global of")
    m.stack[r] = value
    mt_safepoint(m)
    return value

# runtime.GC() from this thread
cdef inline void mt_gc(MutatorThread* m) noexcept nogil:
    mt_collect(m)
    mt_safepoint(m)

cdef inline char* mt_payload(MutatorThread* m, int r) noexcept nogil:
    cdef Object* obj = m.stack[r]
    mut_check_live(m.heap, obj, "payload access to")
    return <char*>(obj_slots(obj) + obj.nslots)

# The thread leaves / re-enters the heap (blocked on I/O): a stop does not wait for it.
cdef inline void mt_blocked_enter(MutatorThread* m) noexcept nogil:
    mt_enter_blocked(m)

cdef inline void mt_blocked_leave(MutatorThread* m) noexcept nogil:
    mt_leave_blocked(m)
    mt_safepoint(m)


# ---------------------------------------------------------------------------
# Either mutator: a workload whose code runs both on the run's own thread (HeapState*,
# the mut_* operations) and on mutator threads (MutatorThread*, the mt_* operations) is
# written once over the fused type Mutator; Cython compiles one copy for each, so the
# single-threaded copy is exactly the mut_* code.  op_drop on a thread is a clear (plans
# that act on drops, malloc, refuse threads).

ctypedef HeapState* RunThread
ctypedef MutatorThread* OtherThread
ctypedef fused Mutator:
    RunThread
    OtherThread

cdef inline Object* op_alloc(Mutator m, int r, uint32_t nslots, uint32_t payload) noexcept nogil:
    if Mutator is RunThread:
        return mut_alloc(m, r, nslots, payload)
    else:
        return mt_alloc(m, r, nslots, payload)

cdef inline void op_store(Mutator m, int r, uint32_t slot, int s) noexcept nogil:
    if Mutator is RunThread:
        mut_store(m, r, slot, s)
    else:
        mt_store(m, r, slot, s)

cdef inline void op_store_null(Mutator m, int r, uint32_t slot) noexcept nogil:
    if Mutator is RunThread:
        mut_store_null(m, r, slot)
    else:
        mt_store_null(m, r, slot)

cdef inline Object* op_load(Mutator m, int r, int s, uint32_t slot) noexcept nogil:
    if Mutator is RunThread:
        return mut_load(m, r, s, slot)
    else:
        return mt_load(m, r, s, slot)

cdef inline void op_clear(Mutator m, int r) noexcept nogil:
    if Mutator is RunThread:
        mut_clear(m, r)
    else:
        mt_clear(m, r)

cdef inline void op_drop(Mutator m, int r, bint recursive) noexcept nogil:
    if Mutator is RunThread:
        mut_drop(m, r, recursive)
    else:
        mt_clear(m, r)

cdef inline Object* op_get_global(Mutator m, int r, int g) noexcept nogil:
    if Mutator is RunThread:
        return mut_get_global(m, r, g)
    else:
        return mt_get_global(m, r, g)

cdef inline void op_set_global(Mutator m, int g, int r) noexcept nogil:
    if Mutator is RunThread:
        mut_set_global(m, g, r)
    else:
        mt_set_global(m, g, r)

# The object in stack slot r (valid until the next operation, as mutator.pxd says above).
cdef inline Object* op_stack(Mutator m, int r) noexcept nogil:
    if Mutator is RunThread:
        return m.roots.stack[r]
    else:
        return m.stack[r]

cdef inline char* op_payload(Mutator m, int r) noexcept nogil:
    if Mutator is RunThread:
        return mut_payload(m, r)
    else:
        return mt_payload(m, r)

# A safepoint inside a long computation that is not itself an operation (a loop over an
# object's payload): a thread asked to stop stops here, as Go's asynchronous preemption
# stops a goroutine in a loop without calls; the operation count is unchanged.  The run's
# own thread has nobody to stop it (it takes its pauses itself), so there it is nothing
# and a recorded trace is unchanged.  Objects may have moved when it returns.
cdef inline void op_preempt_point(Mutator m) noexcept nogil:
    if Mutator is OtherThread:
        if gcb_unlikely(gcb_load_i64_relaxed(&m.next_poll_ops) == 0):
            mt_poll_slow(m)

cdef inline void op_tick(Mutator m) noexcept nogil:
    if Mutator is RunThread:
        mut_tick(m)
    else:
        mt_tick(m)

cdef inline void op_gc(Mutator m) noexcept nogil:
    if Mutator is RunThread:
        mut_gc(m)
    else:
        mt_gc(m)
