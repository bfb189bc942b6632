# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""sticky: non-moving generational mark-sweep with sticky mark bits (Demers et al. 1990;
Whippet's generational mmc and MMTk's StickyImmix, without the Immix part).

Spaces: the size-class mark-sweep space and the large-object space; nothing moves.  An
object is old when it survived a sweep: its alloc bit is set (a sweep makes the mark bits
the alloc bits; objects allocated since sit below freeindex or in a bump run with a clear
alloc bit, and large objects that survived get their alloc bit set here).  Collections
are stop-the-world pauses:
  minor   (kind `minor`) marks from the roots and the remembered set only, and treats
          every old object as already marked: it never traces into the old generation.
          Then every old object's mark bit is set from its alloc bit (the marks "stick"),
          and the sweep frees exactly the young objects that were not reached;
  major   (kind `major`, or `full` when forced) clears the remembered set's log bits and
          runs the heap's whole mark and sweep: marks are cleared, everything is traced.
The barrier (`barrier=object`) logs an old object once (its mark bit, clear between
collections, is the log bit) when a store puts a young pointer into it; `barrier=none` is
UNSAFE (the verifier catches the young object freed while an old one still points to it).
Triggers: a collection when the young bytes reach the nursery size (`nursery=appel`: half
the free heap; `fixed`: `nursery_kib`) or every --stress N allocations; it is a major when
the old generation reached the pacer's trigger (Go's GOGC rule on the old heap), else a
minor; a full heap (out of memory) or runtime.GC() runs a full one.
Invariants: between collections every old object that points to a young one is logged;
after any collection every allocated object is old and no mark bit is set.
"""
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t, INT64_MAX
from libc.stdlib cimport calloc, free
from gcbench_core.plan import PlanConstraints
from gcbench_core.heap cimport (HeapState, ManagedHeap, MarkStack, Object, Span, obj_slots, heap_in_use,
                                collector_init, heap_visit_roots, heap_flip, heap_sweep_all,
                                heap_mark_roots, heap_drain, in_arena, span_of, obj_index, mark_object,
                                mark_stack_push, mark_stack_free, gcb_now_ns,
                                PAUSE_MINOR, PAUSE_MAJOR, PAUSE_FULL_GC, CYCLE_MINOR, CYCLE_MAJOR,
                                CYCLE_FULL, SPAN_SMALL, SPAN_LARGE, SPAN_FREE)
from gcbench_core.cycle cimport cycle_begin, cycle_end, cycle_note_generation, CycleResult

NAME = "sticky"
DESCRIPTION = ("non-moving generational mark-sweep with sticky mark bits: minor collections "
               "trace only young objects from the roots and the remembered set")
OPTIONS = {
    "barrier": {"type": "str", "default": "object", "choices": ("object", "none"),
                "help": "write barrier: object (log an old object once when it receives a young "
                        "pointer), none (UNSAFE: no barrier, to show what it prevents)"},
    "nursery": {"type": "str", "default": "appel", "choices": ("appel", "fixed"),
                "help": "young bytes between minor collections: appel (half of what is left up to "
                        "the pacer's trigger or the heap size) or fixed (nursery_kib)"},
    "nursery_kib": {"type": "int", "default": 4096, "min": 64, "max": 1 << 24,
                    "help": "the fixed nursery's size in KiB (nursery=fixed)"},
}
CONSTRAINTS = PlanConstraints(barrier="object")

cdef enum:
    MIN_NURSERY = 256 * 1024

ctypedef struct StickyState:
    bint barrier
    bint appel
    int64_t fixed_bytes
    int64_t stress_count
    int64_t old_bytes                # heap in use after the last collection: the old generation
    int64_t nursery_bytes            # young bytes that start the next minor collection
    MarkStack remset                 # logged old objects
    int64_t survived                 # bytes of young objects marked by the current minor

cdef inline bint is_old(Span* s, uint32_t i) noexcept nogil:
    return (s.alloc_bits[i >> 6] >> (i & 63)) & 1

cdef inline bint obj_is_old(HeapState* heap, Object* obj) noexcept nogil:
    cdef Span* s = span_of(heap, obj)
    return is_old(s, obj_index(s, obj))

cdef void sticky_write_barrier(HeapState* heap, Object** slot, Object* value) noexcept nogil:
    cdef StickyState* st = <StickyState*>heap.collector.state
    cdef Span* s
    cdef uint32_t i
    cdef uint64_t bit
    if value == NULL or not in_arena(heap, slot):
        return                       # a global or extra root: scanned at every collection
    s = span_of(heap, slot)
    i = obj_index(s, slot)
    bit = (<uint64_t>1) << (i & 63)
    if not is_old(s, i) or (s.mark_bits[i >> 6] & bit) or obj_is_old(heap, value):
        return                       # young target, already logged, or an old value
    heap.barrier_slow_calls += 1
    s.mark_bits[i >> 6] |= bit       # the log bit
    mark_stack_push(&st.remset, <Object*>(s.base + <uint64_t>i * s.elemsize))
    heap.remset_entries += 1

# Mark a young object (old ones count as marked); push it when this call marked it.
cdef inline void mark_young(HeapState* heap, StickyState* st, Object* obj) noexcept nogil:
    cdef Span* s
    if obj == NULL:
        return
    s = span_of(heap, obj)
    if is_old(s, obj_index(s, obj)):
        return
    if mark_object(heap, obj):
        st.survived += s.elemsize
        mark_stack_push(heap.mark_stack, obj)

cdef void mark_young_root(HeapState* heap, Object** slot, void* arg) noexcept nogil:
    mark_young(heap, <StickyState*>arg, slot[0])

# Every in-use span: old objects become marked (small spans: mark |= alloc, word by word;
# a large object: its alloc bit).  Before a minor sweep, so that it frees young objects only.
cdef void stick_old_marks(HeapState* heap) noexcept nogil:
    cdef uint32_t p = 0, w
    cdef Span* s
    while p < heap.pages.high_water_page:
        s = &heap.pages.spans[p]
        if s.state == SPAN_FREE:
            p += s.npages if s.npages > 0 else 1
            continue
        if s.state == SPAN_SMALL:
            for w in range((s.nelems + 63) >> 6):
                s.mark_bits[w] |= s.alloc_bits[w]
        else:
            s.mark_bits[0] |= s.alloc_bits[0] & 1
        p += s.npages

# After a sweep: every surviving large object is old (small ones are, by the sweep).
cdef void age_large_objects(HeapState* heap) noexcept nogil:
    cdef uint32_t p = 0
    cdef Span* s
    while p < heap.pages.high_water_page:
        s = &heap.pages.spans[p]
        if s.state == SPAN_FREE:
            p += s.npages if s.npages > 0 else 1
            continue
        if s.state == SPAN_LARGE:
            s.alloc_bits[0] |= 1
        p += s.npages

cdef void set_nursery(HeapState* heap, StickyState* st) noexcept nogil:
    cdef int64_t cap = heap.pages.arena_bytes
    cdef int64_t in_use = heap_in_use(heap)
    st.old_bytes = in_use
    if st.appel:
        st.nursery_bytes = (cap - in_use) // 2
        if st.nursery_bytes < MIN_NURSERY:
            st.nursery_bytes = MIN_NURSERY
    else:
        st.nursery_bytes = st.fixed_bytes

cdef void set_next_poll(HeapState* heap, StickyState* st) noexcept nogil:
    cdef int64_t in_use = heap_in_use(heap)
    cdef int64_t room = st.old_bytes + st.nursery_bytes - in_use
    if heap.stress_allocs > 0 or room < 0:
        room = 0
    heap.next_poll_bytes = heap.alloc_bytes + room

cdef void collect(HeapState* heap, bint major, bint forced) noexcept nogil:
    cdef StickyState* st = <StickyState*>heap.collector.state
    cdef CycleResult r
    cdef int64_t in_use = heap_in_use(heap)
    cdef int64_t young = in_use - st.old_bytes
    cdef int64_t t0, j
    cdef Object* obj
    cdef Object** slots
    cdef Span* s
    cdef uint32_t i, k
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    t0 = cycle_begin(heap, forced)
    st.survived = 0
    if major:
        for j in range(st.remset.length):        # clear the log bits: a full trace follows
            obj = st.remset.items[j]
            s = span_of(heap, obj)
            i = obj_index(s, obj)
            s.mark_bits[i >> 6] &= ~((<uint64_t>1) << (i & 63))
        st.remset.length = 0
        heap_mark_roots(heap, heap.mark_stack, True)
    else:
        heap_visit_roots(heap, mark_young_root, st)
        for j in range(st.remset.length):        # logged old objects: their young children
            obj = st.remset.items[j]
            slots = obj_slots(obj)
            for k in range(obj.nslots):
                mark_young(heap, st, slots[k])
        st.remset.length = 0
        while heap.mark_stack.length > 0:
            heap.mark_stack.length -= 1
            obj = heap.mark_stack.items[heap.mark_stack.length]
            heap.marked_objects_total += 1
            slots = obj_slots(obj)
            for k in range(obj.nslots):
                mark_young(heap, st, slots[k])
    if major:
        heap.marked_objects_total += heap_drain(heap, heap.mark_stack)
    r.sweep_start_ns = gcb_now_ns()
    r.mark_ns = r.sweep_start_ns - t0
    heap_flip(heap)
    if not major:
        stick_old_marks(heap)
        heap.promoted_bytes += st.survived
    heap_sweep_all(heap)
    age_large_objects(heap)
    if major:
        cycle_note_generation(heap, CYCLE_FULL if forced else CYCLE_MAJOR, young, 0)
    else:
        cycle_note_generation(heap, CYCLE_MINOR, young, st.survived)
    r.live_bytes = heap_in_use(heap)
    r.heap_after = r.live_bytes
    r.live_objects = heap.alloc_count - heap.freed_count
    r.scan_work = 0
    r.forced = forced
    r.paced = major
    r.marks_intact = False
    cycle_end(heap, PAUSE_FULL_GC if forced else (PAUSE_MAJOR if major else PAUSE_MINOR), t0, &r)
    set_nursery(heap, st)
    set_next_poll(heap, st)

cdef void sticky_alloc_hook(HeapState* heap) noexcept nogil:
    cdef StickyState* st = <StickyState*>heap.collector.state
    cdef int64_t in_use = heap_in_use(heap)
    if heap.stress_allocs > 0:
        st.stress_count += 1
        if st.stress_count >= heap.stress_allocs:
            st.stress_count = 0
            collect(heap, st.old_bytes >= heap.pacer.heap_trigger, False)
        else:
            heap.next_poll_bytes = heap.alloc_bytes
        return
    if in_use - st.old_bytes >= st.nursery_bytes:
        # a major when the old generation reached the pacer's trigger (Go's GOGC rule on
        # the old heap), else a minor
        collect(heap, st.old_bytes >= heap.pacer.heap_trigger, False)
    else:
        set_next_poll(heap, st)

cdef void sticky_collect_forced(HeapState* heap) noexcept nogil:
    collect(heap, True, True)

cdef void sticky_destroy(HeapState* heap) noexcept nogil:
    cdef StickyState* st = <StickyState*>heap.collector.state
    if st != NULL:
        mark_stack_free(&st.remset)
        free(st)
    heap.collector.state = NULL
    heap.barrier_on = 0

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    cdef StickyState* st
    collector_init(heap, NAME)
    st = <StickyState*>calloc(1, sizeof(StickyState))
    if st == NULL:
        raise MemoryError()
    h.collector.state = st
    st.barrier = opts["barrier"] == "object"
    st.appel = opts["nursery"] == "appel"
    st.fixed_bytes = <int64_t>opts["nursery_kib"] * 1024
    h.barrier_on = 1 if st.barrier else 0
    h.collector.alloc_hook = sticky_alloc_hook
    h.collector.out_of_memory = sticky_collect_forced
    h.collector.collect = sticky_collect_forced
    h.collector.write_barrier = sticky_write_barrier
    h.collector.destroy = sticky_destroy
    set_nursery(h, st)
    set_next_poll(h, st)
