# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""semispace: Cheney's copying collector (Cheney 1970; MMTk's SemiSpace, Whippet's semi).

Spaces: the bump-pointer space (spaces/bump: two halves, to-space and from-space) for
every small object, and the non-moving large-object space for objects over 32 KiB.
The mutator bumps a pointer through to-space (heap_alloc's inline bump path).  When
to-space is full (or the pacer's goal is reached, or --stress N allocations passed) one
stop-the-world pause (kind stw-collect, cycle kind full):
  1. cycle start (the Pool drops its victim cache); the halves flip;
  2. every root slot (stack slots, globals, extra roots such as the Pool's) is forwarded:
     an object in from-space is copied to to-space once (its old header becomes a
     forwarding header), and the slot takes the new address; a large object is marked;
  3. Cheney's breadth-first scan: a scan pointer walks to-space from its base to the
     allocation cursor, forwarding every slot of every copied object (copying what they
     reach), and marked large objects are scanned from a stack, until both are empty;
  4. the large-object space is swept; from-space is now garbage (debug builds poison it,
     so a stale pointer into it fails at its next use: the moving stress mode).
Budget: the heap size H holds both halves and the large objects, so to-space may fill to
(H - large bytes) / 2: the copy reserve is half the heap, and the minimum heap is about
twice the live size.  With GOGC on, a collection starts earlier, when the heap in use
(charged bytes, as the pacer counts) reaches the pacer's trigger.
Objects are charged their size class (as under every collector) though they take only
their size rounded to 8 bytes.  Invariants: after a collection every reachable small
object lies in to-space below the cursor with a real header, every root and slot holds
a to-space address, and heap in use = to-space charges + large bytes (the verifier
checks all three).
"""
from libc.stdint cimport int64_t, uint32_t, uintptr_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from gcbench_core.plan import PlanConstraints
from gcbench_core.heap cimport (HeapState, ManagedHeap, MarkStack, Object, obj_slots, heap_in_use,
                                collector_init, heap_fail, heap_visit_roots, heap_flip, heap_sweep_all,
                                in_arena, mark_object, charged_bytes,
                                bump_objects, bump_charged, bump_set_contents, mark_stack_push, mark_stack_free, gcb_now_ns,
                                PAUSE_STW_COLLECT, ERR_INTERNAL, GCB_DEBUG, GCB_POISON_BYTE, MAX_SMALL_SIZE)
from gcbench_core.spaces.bump cimport (BumpSpace, bump_init, bump_flip, bump_copy, bump_contains)
from gcbench_core.cycle cimport cycle_begin, cycle_end, CycleResult

NAME = "semispace"
DESCRIPTION = ("Cheney copying: bump allocation in one half, a stop-the-world pause copies "
               "the reachable objects breadth-first into the other half (copy reserve: half the heap)")
OPTIONS = {}
CONSTRAINTS = PlanConstraints(moves_objects=True)

ctypedef struct SemiState:
    int64_t stress_count
    MarkStack los_stack              # marked large objects whose slots are not yet scanned

cdef inline int64_t round8(uint32_t n) noexcept nogil:
    return (<int64_t>n + 7) & ~(<int64_t>7)

# Where allocation in to-space must physically stop: half of what the large objects leave
# of the heap (the other half is the copy reserve).  Raw bytes: to-space holds objects at
# their size rounded to 8, not at their size-class charge.
cdef void set_limit(HeapState* heap) noexcept nogil:
    cdef BumpSpace* b = &heap.bump
    cdef int64_t used = b.cursor - b.to_base
    cdef int64_t large = heap_in_use(heap) - bump_charged(heap)
    cdef int64_t room = (heap.pages.arena_bytes - large) // 2
    room &= ~(<int64_t>7)
    if room > b.half_bytes:
        room = b.half_bytes
    if room < used:
        room = used
    b.limit = b.to_base + room

# GOGC on: the heap in use (charged bytes, the pacer's unit) has reached the trigger.
cdef inline bint at_trigger(HeapState* heap) noexcept nogil:
    return heap.pacer.gogc >= 0 and heap_in_use(heap) >= heap.pacer.heap_trigger

cdef void set_next_poll(HeapState* heap) noexcept nogil:
    cdef int64_t to_trigger
    if heap.stress_allocs > 0:
        heap.next_poll_bytes = heap.alloc_bytes
        return
    # the hook runs again once as many bytes as to-space has left were charged (a charge
    # is at least the raw size, so this comes no later than the space fills; large
    # objects shrink the room too), or (GOGC on) once the heap in use reaches the trigger
    heap.next_poll_bytes = heap.alloc_bytes + (heap.bump.limit - heap.bump.cursor)
    if heap.pacer.gogc >= 0:
        to_trigger = heap.pacer.heap_trigger - heap_in_use(heap)
        if to_trigger < heap.next_poll_bytes - heap.alloc_bytes:
            heap.next_poll_bytes = heap.alloc_bytes + (to_trigger if to_trigger > 0 else 0)

cdef inline void forward(HeapState* heap, SemiState* st, Object** slot) noexcept nogil:
    cdef Object* obj = slot[0]
    cdef Object* copy
    if obj == NULL:
        return
    if bump_contains(&heap.bump, obj):
        copy = bump_copy(&heap.bump, obj)
        if copy == NULL:
            heap_fail(heap, ERR_INTERNAL, "semispace: to-space overflowed while copying")
            return
        slot[0] = copy
    elif in_arena(heap, obj) and mark_object(heap, obj):
        mark_stack_push(&st.los_stack, obj)

cdef void forward_root(HeapState* heap, Object** slot, void* arg) noexcept nogil:
    forward(heap, <SemiState*>arg, slot)

cdef void collect(HeapState* heap, bint forced) noexcept nogil:
    cdef SemiState* st = <SemiState*>heap.collector.state
    cdef BumpSpace* b = &heap.bump
    cdef CycleResult r
    cdef int64_t in_use = heap_in_use(heap)
    cdef int64_t t0, from_used, from_objects, from_charged, to_charged = 0, copied0, copied
    cdef char* from_base
    cdef char* scan
    cdef Object* obj
    cdef Object** slots
    cdef uint32_t i
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    t0 = cycle_begin(heap, forced)
    from_used = b.cursor - b.to_base
    from_objects = bump_objects(heap)
    from_charged = bump_charged(heap)
    copied0 = b.copied_objects
    bump_flip(b)                     # to-space is the empty half, whole, while copying
    from_base = b.from_base
    heap_visit_roots(heap, forward_root, st)
    scan = b.to_base
    while True:
        while scan < b.cursor:       # Cheney: to-space between scan and cursor is grey
            obj = <Object*>scan
            slots = obj_slots(obj)
            for i in range(obj.nslots):
                forward(heap, st, &slots[i])
            to_charged += charged_bytes(heap, obj.nbytes)
            scan += round8(obj.nbytes)
        if st.los_stack.length == 0:
            break
        st.los_stack.length -= 1
        obj = st.los_stack.items[st.los_stack.length]
        slots = obj_slots(obj)
        for i in range(obj.nslots):
            forward(heap, st, &slots[i])
    r.sweep_start_ns = gcb_now_ns()
    r.mark_ns = r.sweep_start_ns - t0
    heap_flip(heap)
    heap_sweep_all(heap)             # the large objects
    copied = b.copied_objects - copied0
    heap.freed_bytes += from_charged - to_charged
    heap.freed_count += from_objects - copied
    bump_set_contents(heap, copied, to_charged)
    heap.copied_objects += copied
    heap.copied_bytes += b.cursor - b.to_base
    heap.marked_objects_total += copied
    if GCB_DEBUG:
        memset(from_base, GCB_POISON_BYTE, from_used)   # old copies: a stale pointer fails
    r.live_bytes = heap_in_use(heap)
    r.heap_after = r.live_bytes
    r.live_objects = heap.alloc_count - heap.freed_count
    r.scan_work = 0
    r.forced = forced
    r.paced = True
    r.marks_intact = False
    cycle_end(heap, PAUSE_STW_COLLECT, t0, &r)
    set_limit(heap)
    set_next_poll(heap)

cdef void semi_alloc_hook(HeapState* heap) noexcept nogil:
    cdef SemiState* st = <SemiState*>heap.collector.state
    if heap.stress_allocs > 0:
        st.stress_count += 1
        if st.stress_count >= heap.stress_allocs:
            st.stress_count = 0
            collect(heap, False)
            return
    set_limit(heap)
    # (called from the poll point, or because to-space refused an object of up to
    # MAX_SMALL_SIZE bytes: collect when that much may not fit, or at the pacer's trigger)
    if heap.bump.limit - heap.bump.cursor < MAX_SMALL_SIZE + 8 or at_trigger(heap):
        collect(heap, False)
    else:
        set_next_poll(heap)

cdef void semi_collect_forced(HeapState* heap) noexcept nogil:
    collect(heap, True)

cdef void semi_destroy(HeapState* heap) noexcept nogil:
    cdef SemiState* st = <SemiState*>heap.collector.state
    if st != NULL:
        mark_stack_free(&st.los_stack)
        free(st)
    heap.collector.state = NULL
    heap.alloc_bump = 0

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    collector_init(heap, NAME)
    if h.bump.base == NULL and not bump_init(&h.bump, h.pages.arena_bytes // 2):
        raise MemoryError("semispace: cannot map the two semispaces")
    h.collector.state = calloc(1, sizeof(SemiState))
    if h.collector.state == NULL:
        raise MemoryError()
    h.alloc_bump = 1
    bump_set_contents(h, 0, 0)
    h.collector.alloc_hook = semi_alloc_hook
    h.collector.out_of_memory = semi_collect_forced
    h.collector.collect = semi_collect_forced
    h.collector.destroy = semi_destroy
    set_limit(h)
    set_next_poll(h)
