# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""gencopy: Appel-style generational copying (Appel 1989; MMTk's GenCopy with a
mark-sweep mature space, Go-sized classes for the old generation).

Spaces: a bump-pointer nursery (one half of spaces/bump) for every new small object; the
mature generation is the size-class mark-sweep space plus the large-object space (large
objects are allocated old).  The barrier records every mature-to-nursery pointer:
  card    (default) the 512-byte card of the written slot is dirtied (once: a dirty list);
  object  the written mature object is logged once in the remembered set (its mark bit,
          clear between major collections, is the "logged" bit);
  none    UNSAFE: no barrier, to show what it prevents (the verifier catches the
          mature object left pointing into the reset nursery on graph-mutate).
A collection is one stop-the-world pause:
  minor   (pause and cycle kind `minor`) the nursery's survivors are promoted (copied)
          into the mature space: every root slot, every slot of a dirty card or logged
          object, then every slot of every promoted object (a worklist) that points into
          the nursery is forwarded (copy once; the old header becomes a forwarding header
          holding the copy's arena offset); the nursery is then empty and its cursor resets
          (debug builds poison it);
  major   (kind `major`, or `full` when forced) a minor, then the mature space is marked
          from the roots and swept (the heap's stop-the-world mark and sweep), when the
          mature heap reached the pacer's trigger (Go's GOGC rule on the old generation),
          when forced (runtime.GC(), out of memory), or when the nursery would be smaller
          than MIN_NURSERY (256 KiB, JikesRVM MMTk's minimum nursery: its generational
          plans collect the full heap when fewer pages than that are available).
Nursery size (`nursery`): `appel` (default) = half the free heap (the other half is the
copy reserve for the promotion; the heap is --heap: GOGC paces only the major
collections); `fixed` = `nursery_kib`; never more than half the free heap.  The free
heap is the arena less the mature bytes in use (free slots in mature spans count: the
promotion fills them first).
Invariants: between collections no mature object points into the nursery unless its card
is dirty or it is logged; after a minor collection the nursery is empty and nothing points
into it; heap in use = mature bytes + nursery bytes (the verifier checks all of it).
"""
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t, uintptr_t, INT64_MAX
from libc.stdlib cimport calloc, free
from libc.string cimport memset, memcpy
from gcbench_core.plan import PlanConstraints
from gcbench_core.heap cimport (HeapState, ManagedHeap, MarkStack, Object, Span, obj_slots, heap_in_use,
                                collector_init, heap_fail, heap_visit_roots, heap_flip, heap_sweep_all,
                                heap_alloc, heap_mark_roots, heap_drain, heap_sync_current_spans,
                                in_arena, span_of, obj_index, charged_bytes,
                                bump_objects, bump_charged, bump_set_contents, mark_stack_push, mark_stack_free, gcb_now_ns,
                                PAUSE_MINOR, PAUSE_MAJOR, PAUSE_FULL_GC, CYCLE_MINOR, CYCLE_MAJOR,
                                CYCLE_FULL, SPAN_SMALL, SPAN_LARGE, PAGE_SIZE, ERR_INTERNAL, GCB_DEBUG,
                                GCB_POISON_BYTE, MAX_SMALL_SIZE, HEADER_BYTES)
from gcbench_core.spaces.bump cimport BumpSpace, bump_init, bump_contains
from gcbench_core.cycle cimport cycle_begin, cycle_end, cycle_note_generation, CycleResult

NAME = "gencopy"
DESCRIPTION = ("generational copying (Appel): a bump-pointer nursery promoted by copying into the "
               "mark-sweep mature space; card or object remembered set")
OPTIONS = {
    "barrier": {"type": "str", "default": "card", "choices": ("card", "object", "none"),
                "help": "write barrier recording mature-to-nursery pointers: card (dirty the 512-byte "
                        "card of the slot), object (log the written object once), none (UNSAFE: no "
                        "barrier, to show what it prevents)"},
    "nursery": {"type": "str", "default": "appel", "choices": ("appel", "fixed"),
                "help": "nursery size: appel (half the free heap, Appel's flexible nursery) or fixed "
                        "(nursery_kib, at most half the free heap)"},
    "nursery_kib": {"type": "int", "default": 4096, "min": 64, "max": 1 << 24,
                    "help": "the fixed nursery's size in KiB (nursery=fixed)"},
}
CONSTRAINTS = PlanConstraints(moves_objects=True, barrier="card")

cdef enum:
    BARRIER_CARD = 0
    BARRIER_OBJECT = 1
    BARRIER_NONE = 2
    CARD_SHIFT = 9                   # 512-byte cards
    MIN_NURSERY = 256 * 1024         # JikesRVM MMTk's DEFAULT_MIN_NURSERY: below it, a major

ctypedef struct GenState:
    int barrier
    bint appel
    int64_t fixed_bytes
    bint in_gc
    int64_t stress_count
    uint8_t* cards                   # one byte per card of the arena: 1 dirty
    int64_t ncards
    MarkStack dirty                  # dirty cards (card index as a pointer-sized integer) / logged objects
    MarkStack work                   # promoted objects whose slots are not yet scanned
    int64_t survived          # bytes (charged) promoted by the current minor

cdef inline int64_t round8(uint32_t n) noexcept nogil:
    return (<int64_t>n + 7) & ~(<int64_t>7)

# The nursery's room: half the free heap (the other half is the copy reserve for the
# promotion).  The free heap is the arena less the mature generation's bytes in use: the
# free slots that sweeping left in mature spans take promoted objects as free pages do
# (counting only free pages, a mature space whose spans all kept a few live objects left
# no nursery at all, and every collection was a major one).
cdef int64_t nursery_room(HeapState* heap, GenState* st) noexcept nogil:
    cdef int64_t free_bytes = heap.pages.arena_bytes - (heap_in_use(heap) - bump_charged(heap))
    cdef int64_t room = free_bytes // 2
    if not st.appel and st.fixed_bytes < room:
        room = st.fixed_bytes
    if room > heap.bump.half_bytes:
        room = heap.bump.half_bytes
    return room & ~(<int64_t>7) if room > 0 else 0

# The smallest useful nursery: MIN_NURSERY, or a smaller fixed nursery's own size.
cdef inline int64_t nursery_floor(GenState* st) noexcept nogil:
    if not st.appel and st.fixed_bytes < MIN_NURSERY:
        return st.fixed_bytes
    return MIN_NURSERY

cdef void set_limit(HeapState* heap, GenState* st) noexcept nogil:
    cdef BumpSpace* b = &heap.bump
    cdef int64_t room = nursery_room(heap, st)
    if room < b.cursor - b.to_base:
        room = b.cursor - b.to_base
    b.limit = b.to_base + room

cdef void set_next_poll(HeapState* heap) noexcept nogil:
    if heap.stress_allocs > 0:
        heap.next_poll_bytes = heap.alloc_bytes
    else:
        heap.next_poll_bytes = heap.alloc_bytes + (heap.bump.limit - heap.bump.cursor)

# --- the write barrier (slow path: heap.barrier_on stays 1 for card and object) ---

cdef void gen_write_barrier(HeapState* heap, Object** slot, Object* value) noexcept nogil:
    cdef GenState* st = <GenState*>heap.collector.state
    cdef int64_t card
    cdef Span* s
    cdef uint32_t i
    cdef uint64_t bit
    if value == NULL or not bump_contains(&heap.bump, value) or not in_arena(heap, slot):
        return                       # only a mature slot that receives a nursery pointer
    heap.barrier_slow_calls += 1
    if st.barrier == BARRIER_CARD:
        card = (<uintptr_t>slot - <uintptr_t>heap.pages.arena) >> CARD_SHIFT
        if st.cards[card] == 0:
            st.cards[card] = 1
            mark_stack_push(&st.dirty, <Object*><uintptr_t>card)
            heap.cards_dirtied += 1
    else:
        s = span_of(heap, slot)
        i = obj_index(s, slot)
        bit = (<uint64_t>1) << (i & 63)
        if not (s.mark_bits[i >> 6] & bit):
            s.mark_bits[i >> 6] |= bit
            mark_stack_push(&st.dirty, <Object*>(s.base + <uint64_t>i * s.elemsize))
            heap.remset_entries += 1

# --- promotion ---

cdef inline void forward(HeapState* heap, GenState* st, Object** slot) noexcept nogil:
    cdef Object* obj = slot[0]
    cdef Object* copy
    if obj == NULL or not bump_contains(&heap.bump, obj):
        return
    if obj.nbytes == 0:              # forwarded: nslots is the copy's arena offset / 8
        slot[0] = <Object*>(heap.pages.arena + (<uint64_t>obj.nslots << 3))
        return
    copy = heap_alloc(heap, obj.nslots, obj.nbytes - HEADER_BYTES - 8 * obj.nslots)
    if copy == NULL:
        return
    memcpy(copy, obj, obj.nbytes)
    obj.nslots = <uint32_t>((<uintptr_t>copy - <uintptr_t>heap.pages.arena) >> 3)
    obj.nbytes = 0
    slot[0] = copy
    st.survived += charged_bytes(heap, copy.nbytes)
    heap.copied_objects += 1
    heap.copied_bytes += copy.nbytes
    mark_stack_push(&st.work, copy)

cdef void forward_root(HeapState* heap, Object** slot, void* arg) noexcept nogil:
    forward(heap, <GenState*>arg, slot)

cdef inline bint span_object_allocated(Span* s, uint32_t i) noexcept nogil:
    return i < s.freeindex or ((s.alloc_bits[i >> 6] >> (i & 63)) & 1)

# Forward the slots that lie in card `card` of every allocated mature object that overlaps it.
cdef void scan_card(HeapState* heap, GenState* st, int64_t card) noexcept nogil:
    cdef char* lo = heap.pages.arena + (card << CARD_SHIFT)
    cdef char* hi = lo + (1 << CARD_SHIFT)
    cdef Span* s = span_of(heap, lo)
    cdef uint32_t i, last, k
    cdef Object* obj
    cdef Object** slots
    cdef char* a
    cdef char* b
    if s.state == SPAN_LARGE:
        i = 0
        last = 0
    elif s.state == SPAN_SMALL:
        if lo >= s.base + <uint64_t>s.nelems * s.elemsize:
            return
        i = obj_index(s, lo)
        last = obj_index(s, hi - 1)
        if last >= s.nelems:
            last = s.nelems - 1
    else:
        return
    while i <= last:
        if span_object_allocated(s, i):
            obj = <Object*>(s.base + <uint64_t>i * s.elemsize)
            slots = obj_slots(obj)
            a = <char*>slots
            b = <char*>(slots + obj.nslots)
            if a < lo:
                a = lo
            if b > hi:
                b = hi
            if a < b:
                heap.card_scan_bytes += b - a
                for k in range((a - <char*>slots) >> 3, (b - <char*>slots) >> 3):
                    forward(heap, st, &slots[k])
        i += 1

cdef void minor(HeapState* heap, GenState* st) noexcept nogil:
    cdef BumpSpace* b = &heap.bump
    cdef int64_t used = bump_charged(heap)
    cdef int64_t objects = bump_objects(heap)
    cdef int64_t alloc_bytes0, alloc_count0, promoted, promoted_objects, j
    cdef int64_t saved_poll = heap.next_poll_bytes
    cdef Object* obj
    cdef Object** slots
    cdef uint32_t i, k
    cdef Span* s
    heap.alloc_bump = 0              # promotion allocates in the size classes
    heap.next_poll_bytes = INT64_MAX
    st.survived = 0
    heap_sync_current_spans(heap)
    alloc_bytes0 = heap.alloc_bytes
    alloc_count0 = heap.alloc_count
    # the remembered set first (its objects were allocated before any promotion)
    if st.barrier == BARRIER_CARD:
        for j in range(st.dirty.length):
            st.cards[<uintptr_t>st.dirty.items[j]] = 0
            scan_card(heap, st, <int64_t><uintptr_t>st.dirty.items[j])
    elif st.barrier == BARRIER_OBJECT:
        for j in range(st.dirty.length):
            obj = st.dirty.items[j]
            s = span_of(heap, obj)
            i = obj_index(s, obj)
            s.mark_bits[i >> 6] &= ~((<uint64_t>1) << (i & 63))
            slots = obj_slots(obj)
            heap.card_scan_bytes += 8 * obj.nslots
            for k in range(obj.nslots):
                forward(heap, st, &slots[k])
    st.dirty.length = 0
    heap_visit_roots(heap, forward_root, st)
    while st.work.length > 0:        # promoted objects: their slots may reach the nursery
        st.work.length -= 1
        obj = st.work.items[st.work.length]
        slots = obj_slots(obj)
        for k in range(obj.nslots):
            forward(heap, st, &slots[k])
    heap_sync_current_spans(heap)
    promoted = heap.alloc_bytes - alloc_bytes0
    promoted_objects = heap.alloc_count - alloc_count0
    # promotion moves bytes between generations: it is not mutator allocation
    heap.alloc_bytes = alloc_bytes0
    heap.alloc_count = alloc_count0
    heap.freed_bytes += used - promoted
    heap.freed_count += objects - promoted_objects
    heap.promoted_bytes += promoted
    if GCB_DEBUG:
        memset(b.to_base, GCB_POISON_BYTE, b.cursor - b.to_base)   # old copies: a stale pointer fails
    b.cursor = b.to_base
    bump_set_contents(heap, 0, 0)
    heap.alloc_bump = 1
    heap.next_poll_bytes = saved_poll

cdef void collect(HeapState* heap, bint forced) noexcept nogil:
    cdef GenState* st = <GenState*>heap.collector.state
    cdef CycleResult r
    cdef int64_t in_use = heap_in_use(heap)
    cdef int64_t young = bump_charged(heap)
    cdef int64_t t0, t_mark
    cdef bint major
    cdef int kind, pause_kind
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    st.in_gc = True
    t0 = cycle_begin(heap, forced)
    minor(heap, st)
    major = forced or heap_in_use(heap) >= heap.pacer.heap_trigger or nursery_room(heap, st) < nursery_floor(st)
    r.sweep_start_ns = 0
    if major:
        t_mark = gcb_now_ns()
        heap_mark_roots(heap, heap.mark_stack, True)
        heap.marked_objects_total += heap_drain(heap, heap.mark_stack)
        r.sweep_start_ns = gcb_now_ns()
        r.mark_ns = r.sweep_start_ns - t_mark
        heap_flip(heap)
        heap_sweep_all(heap)
    else:
        r.mark_ns = gcb_now_ns() - t0
    kind = CYCLE_FULL if forced else (CYCLE_MAJOR if major else CYCLE_MINOR)
    pause_kind = PAUSE_FULL_GC if forced else (PAUSE_MAJOR if major else PAUSE_MINOR)
    cycle_note_generation(heap, kind, young, st.survived)
    r.live_bytes = heap_in_use(heap)
    r.heap_after = r.live_bytes
    r.live_objects = heap.alloc_count - heap.freed_count
    r.scan_work = 0
    r.forced = forced
    r.paced = major                  # the pacer's goal is set from the mature heap after a major
    r.marks_intact = False
    cycle_end(heap, pause_kind, t0, &r)
    st.in_gc = False
    set_limit(heap, st)
    set_next_poll(heap)

cdef void gen_alloc_hook(HeapState* heap) noexcept nogil:
    cdef GenState* st = <GenState*>heap.collector.state
    if st.in_gc:
        return
    if heap.stress_allocs > 0:
        st.stress_count += 1
        if st.stress_count >= heap.stress_allocs:
            st.stress_count = 0
            collect(heap, False)
            return
    set_limit(heap, st)
    # (from the poll point, or because the nursery refused an object of up to
    # MAX_SMALL_SIZE bytes; large objects count against the free heap too)
    if heap.bump.limit - heap.bump.cursor < MAX_SMALL_SIZE + 8 or \
            heap_in_use(heap) - bump_charged(heap) >= heap.pacer.heap_trigger:
        collect(heap, False)
    else:
        set_next_poll(heap)

cdef void gen_collect_forced(HeapState* heap) noexcept nogil:
    cdef GenState* st = <GenState*>heap.collector.state
    if st.in_gc:
        return                       # promotion found the heap full: the allocation fails
    collect(heap, True)

cdef void gen_destroy(HeapState* heap) noexcept nogil:
    cdef GenState* st = <GenState*>heap.collector.state
    if st != NULL:
        free(st.cards)
        mark_stack_free(&st.dirty)
        mark_stack_free(&st.work)
        free(st)
    heap.collector.state = NULL
    heap.alloc_bump = 0
    heap.barrier_on = 0

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    cdef GenState* st
    if h.pages.arena_bytes > (<int64_t>32 << 30):
        raise ValueError("gencopy: the forwarding header holds arena offsets up to 32 GiB; choose a smaller --heap")
    collector_init(heap, NAME)
    if h.bump.base == NULL and not bump_init(&h.bump, h.pages.arena_bytes // 2):
        raise MemoryError("gencopy: cannot map the nursery")
    st = <GenState*>calloc(1, sizeof(GenState))
    if st == NULL:
        raise MemoryError()
    h.collector.state = st
    st.barrier = {"card": BARRIER_CARD, "object": BARRIER_OBJECT, "none": BARRIER_NONE}[opts["barrier"]]
    st.appel = opts["nursery"] == "appel"
    st.fixed_bytes = <int64_t>opts["nursery_kib"] * 1024
    st.ncards = (h.pages.arena_bytes >> CARD_SHIFT) + 1
    st.cards = <uint8_t*>calloc(st.ncards, 1)
    if st.cards == NULL:
        raise MemoryError()
    h.alloc_bump = 1
    bump_set_contents(h, 0, 0)
    h.barrier_on = 0 if st.barrier == BARRIER_NONE else 1
    h.collector.alloc_hook = gen_alloc_hook
    h.collector.out_of_memory = gen_collect_forced
    h.collector.collect = gen_collect_forced
    h.collector.write_barrier = gen_write_barrier
    h.collector.destroy = gen_destroy
    set_limit(h, st)
    set_next_poll(h)
