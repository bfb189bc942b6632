# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""refcount: CPython's memory management: reference counting plus the cycle detector of
Modules/gcmodule.c (3.12) / Python/gc.c (3.13, 3.14).

Counting.  Every object has a count (a side table, one 16-byte RcMeta per 8-byte granule
of the arena, beside the objects as the mark bitmaps are; objects are 8-byte aligned, so
the granule of an object's address names it and gives it back).  Every reference store adjusts
counts: heap slots and globals through the write barrier (kind "refcount", always on:
incref the new target, store, decref the old one), and stack slots through the mutator's
stack-write hook (heap.count_stack), since CPython counts local references too.  An
object whose count reaches zero is freed at once (spaces' explicit free); its children
are decremented through a worklist, never by recursion (CPython's trashcan), so a long
chain is freed in constant C stack.

Cycle detector (option `cycles`).  Only containers (objects with pointer slots) are
tracked, on doubly linked generation lists threaded through the side table.  A new
container joins the young generation and counts towards its threshold; a freed one is
unlinked and uncounted (PyObject_GC_Del).  A collection of a list (gc_collect_region):
copy each count to gc_refs, subtract the references from inside the list, move what is
left at zero to `unreachable` while moving back whatever a reachable object refers to
(move_unreachable), then free the unreachable by clearing their slots (tp_clear, through
the same decref worklist); survivors go to the next generation.
  generational  (3.12, 3.13) three generations, thresholds (t0, t1, t2): gen0 collects
                when its count (containers allocated minus freed) exceeds t0; gen N+1 when
                N collections of gen N exceed t(N+1); gen 2 only when also the long-lived
                pending objects exceed a quarter of the long-lived total.
  incremental   (3.14.0) a young generation and two old spaces (visited, not visited):
                every automatic collection is an increment: mark from the stack, then the
                young generation plus enough of the not-visited old space (expanded
                transitively) to meet the work budget (young count + heap / 10 / t1);
                when the old space is all visited, the spaces flip.
  off           gc.disable(): no automatic collection.
runtime.GC() (a trace's `gc`) is gc.collect(): a full collection in every mode, so after
it the live set is exactly the reachable set.  A full arena also runs one (the model's
addition: CPython would ask the OS for more memory).  `freeze_after_ops` is gc.freeze():
everything tracked then moves to a permanent generation that is never scanned.
Each collection is one pause whose kind is its generation (gen0, gen1, gen2, increment).

Invariants (the verifier checks the first two under --verify, and after every collection
in debug builds): every count equals the references from roots and heap slots; no object
with count zero stays allocated; a tracked object is on exactly one list; outside a
collection no object has COLLECTING or UNREACHABLE set.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t, uintptr_t
from libc.stdlib cimport calloc, free
from gcbench_core.plan import PlanConstraints
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, MarkStack, Span, obj_slots, collector_init,
                                heap_fail, heap_in_use, heap_in_use_exact, mark_stack_push, mark_stack_free,
                                span_of, debug_assert, gcb_now_ns, gcb_unlikely,
                                PAUSE_GEN0, PAUSE_GEN1, PAUSE_GEN2, PAUSE_INCREMENT,
                                SPAN_LARGE, ERR_INTERNAL, GCB_DEBUG)
from gcbench_core.cycle cimport CycleResult, cycle_begin, cycle_end
from gcbench_core.spaces.pages cimport map_zeroed, unmap
from gcbench_core.spaces.sizeclass cimport sizeclass_free
from gcbench_core.spaces.large cimport large_free
from gcbench_core.verify cimport heap_verify, verify_reference_counts

NAME = "refcount"
DESCRIPTION = ("CPython's collector: reference counting (frees at once) plus the generational "
               "cycle detector (3.12/3.13) or 3.14's incremental one")

# Thresholds of each preset, checked against CPython's source:
#   3.12  Modules/gcmodule.c (3.12 and before): generations 700, 10, 10.
#   3.13  Python/gc.c (3.13.0, the incremental collector reverted): _PyGC_InitState sets
#         generations[0].threshold = 2000; gen1 and gen2 stay 10, 10.
#   3.14  Python/gc.c (3.14.0, incremental): young threshold 2000, old[0].threshold 10
#         (the increment's scale factor), SCAN_RATE_DIVISOR 10.
PRESETS = {"3.12": (700, 10, 10), "3.13": (2000, 10, 10), "3.14": (2000, 10, 0)}
cdef enum:
    SCAN_RATE_DIVISOR = 10

OPTIONS = {
    "cycles": {"type": "str", "default": "generational", "choices": ("generational", "incremental", "off"),
               "help": "the cycle detector: generational (3.12/3.13), incremental (3.14.0), off (gc.disable())"},
    "preset": {"type": "str", "default": "auto", "choices": ("auto", "3.12", "3.13", "3.14"),
               "help": "thresholds of a CPython version (auto: 3.12 for generational, 3.14 for incremental)"},
    "threshold0": {"type": "int", "default": -1, "min": -1, "max": 1 << 30,
                   "help": "young threshold (gc.set_threshold's first value; -1: the preset's, 0: no automatic collection)"},
    "threshold1": {"type": "int", "default": -1, "min": -1, "max": 1 << 30,
                   "help": "gen1 threshold (incremental: the increment's scale factor); -1: the preset's"},
    "threshold2": {"type": "int", "default": -1, "min": -1, "max": 1 << 30,
                   "help": "gen2 threshold (generational only); -1: the preset's"},
    "freeze_after_ops": {"type": "int", "default": 0, "min": 0, "max": 1 << 62,
                         "help": "gc.freeze() once this many mutator operations have run (0: never)"},
}
# frees at once and collects by thresholds: --stress (a collection every N allocations) does not apply
CONSTRAINTS = PlanConstraints(barrier="refcount", honours_stress=False)

cdef enum:
    F_TRACKED = 1            # on a generation list
    F_COLLECTING = 2         # in the list being collected (gc_refs valid)
    F_UNREACHABLE = 4        # moved to the unreachable list (tentatively or for good)
    F_SPACE = 8              # 3.14: the old-space bit (visited / not visited)
    FLAG_MASK = 15
    REFS_SHIFT = 4
    MAX_COUNT = (1 << 28) - 1

# List heads: extra RcMeta entries after the last granule.
cdef enum:
    H_GEN0 = 0               # generational gen0; incremental: young
    H_GEN1 = 1               # generational gen1; incremental: old space 0
    H_GEN2 = 2               # generational gen2; incremental: old space 1
    H_PERMANENT = 3          # gc.freeze()
    H_UNREACHABLE = 4
    H_SURVIVORS = 5
    H_INCREMENT = 6
    H_REACHABLE = 7
    NHEADS = 8

cdef enum:
    MODE_OFF = 0
    MODE_GENERATIONAL = 1
    MODE_INCREMENTAL = 2

cdef enum:
    PHASE_MARK = 0
    PHASE_COLLECT = 1

ctypedef struct RcMeta:
    uint32_t refcnt
    uint32_t bits            # flags | gc_refs << REFS_SHIFT
    uint32_t next            # list links: granule indices (heads after the last granule)
    uint32_t prev

ctypedef struct GenStats:
    int64_t collections
    int64_t collected
    int64_t scanned

ctypedef struct RcState:
    RcMeta* meta
    uint64_t meta_bytes
    uint32_t heads           # index of the first head
    char* arena
    MarkStack trash          # dealloc worklist (the trashcan)
    bint draining
    bint collecting
    bint scheduled           # young count passed its threshold: collect at the next stack write
    int mode
    int64_t threshold[3]
    int64_t count[3]         # gen0: containers allocated - freed; gen1/2: collections of the younger
    int64_t long_lived_pending
    int64_t long_lived_total
    # 3.14
    int visited_space
    int phase
    int64_t work_to_do
    int64_t heap_size        # tracked containers
    int64_t freeze_after_ops
    bint frozen
    # statistics
    GenStats stats[5]        # gen0, gen1, gen2, (young), increment
    int64_t freed_by_count   # objects freed when their count reached zero
    int64_t collected_total  # objects found unreachable by the detector

cdef inline RcState* rc_state(HeapState* heap) noexcept nogil:
    return <RcState*>heap.collector.state

cdef inline uint32_t idx_of(RcState* st, Object* o) noexcept nogil:
    return <uint32_t>((<uintptr_t>o - <uintptr_t>st.arena) >> 3)

cdef inline Object* obj_of(RcState* st, uint32_t i) noexcept nogil:
    return <Object*>(st.arena + (<uint64_t>i << 3))

cdef inline RcMeta* meta_of(RcState* st, Object* o) noexcept nogil:
    return &st.meta[idx_of(st, o)]

cdef inline uint32_t gc_refs(RcMeta* m) noexcept nogil:
    return m.bits >> REFS_SHIFT

cdef inline void set_refs(RcMeta* m, uint32_t refs) noexcept nogil:
    m.bits = (m.bits & FLAG_MASK) | (refs << REFS_SHIFT)

# ---------------------------------------------------------------------------
# Lists (circular, doubly linked through RcMeta.next/prev; heads are entries too)

cdef inline uint32_t head(RcState* st, int h) noexcept nogil:
    return st.heads + <uint32_t>h

cdef inline void lst_init(RcState* st, uint32_t h) noexcept nogil:
    st.meta[h].next = h
    st.meta[h].prev = h

cdef inline bint lst_empty(RcState* st, uint32_t h) noexcept nogil:
    return st.meta[h].next == h

cdef inline void lst_append(RcState* st, uint32_t x, uint32_t h) noexcept nogil:
    cdef uint32_t last = st.meta[h].prev
    st.meta[x].prev = last
    st.meta[x].next = h
    st.meta[last].next = x
    st.meta[h].prev = x

cdef inline void lst_remove(RcState* st, uint32_t x) noexcept nogil:
    cdef uint32_t p = st.meta[x].prev, n = st.meta[x].next
    st.meta[p].next = n
    st.meta[n].prev = p

cdef inline void lst_move(RcState* st, uint32_t x, uint32_t h) noexcept nogil:
    lst_remove(st, x)
    lst_append(st, x, h)

cdef inline void lst_merge(RcState* st, uint32_t src, uint32_t dst) noexcept nogil:
    cdef uint32_t first, last, tail
    if lst_empty(st, src):
        return
    first = st.meta[src].next
    last = st.meta[src].prev
    tail = st.meta[dst].prev
    st.meta[tail].next = first
    st.meta[first].prev = tail
    st.meta[last].next = dst
    st.meta[dst].prev = last
    lst_init(st, src)

cdef int64_t lst_size(RcState* st, uint32_t h) noexcept nogil:
    cdef int64_t n = 0
    cdef uint32_t x = st.meta[h].next
    while x != h:
        n += 1
        x = st.meta[x].next
    return n

cdef void lst_set_space(RcState* st, uint32_t h, int space) noexcept nogil:
    cdef uint32_t x = st.meta[h].next
    while x != h:
        st.meta[x].bits = (st.meta[x].bits & ~(<uint32_t>F_SPACE)) | (F_SPACE if space else 0)
        x = st.meta[x].next

# ---------------------------------------------------------------------------
# Counting, freeing at zero (the trashcan worklist), tracking

cdef inline void free_object(HeapState* heap, Object* o) noexcept nogil:
    if span_of(heap, o).state == SPAN_LARGE:
        large_free(heap, o)
    else:
        sizeclass_free(heap, o)

# Free `o` (count zero) and everything whose count its death brings to zero.
cdef void rc_dealloc(HeapState* heap, RcState* st, Object* o) noexcept nogil:
    cdef Object* child
    cdef RcMeta* m
    cdef RcMeta* mc
    cdef uint32_t k
    cdef Object** slots
    mark_stack_push(&st.trash, o)
    if st.draining:
        return
    st.draining = True
    while st.trash.length > 0:
        st.trash.length -= 1
        o = st.trash.items[st.trash.length]
        slots = obj_slots(o)
        for k in range(o.nslots):
            child = slots[k]
            if child != NULL:
                mc = meta_of(st, child)
                if GCB_DEBUG:
                    debug_assert(heap, mc.refcnt > 0, "refcount: decrementing a count that is already zero")
                mc.refcnt -= 1
                if mc.refcnt == 0:
                    mark_stack_push(&st.trash, child)
        m = meta_of(st, o)
        if m.bits & F_TRACKED:
            # PyObject_GC_Del: unlink, and one fewer young object counted
            lst_remove(st, idx_of(st, o))
            if st.count[0] > 0:
                st.count[0] -= 1
            st.heap_size -= 1
        m.bits = 0
        m.refcnt = 0
        st.freed_by_count += 1
        free_object(heap, o)
    st.draining = False

cdef inline void rc_decref(HeapState* heap, RcState* st, Object* o) noexcept nogil:
    cdef RcMeta* m
    if o == NULL:
        return
    m = meta_of(st, o)
    if GCB_DEBUG:
        debug_assert(heap, m.refcnt > 0, "refcount: decrementing a count that is already zero")
    m.refcnt -= 1
    if m.refcnt == 0:
        rc_dealloc(heap, st, o)

# A count going from 0 to 1 is a new object's first reference (nothing else has count
# zero and is allocated): containers are tracked in the young generation here, as
# _PyObject_GC_Link and PyObject_GC_Track do when CPython creates one.
cdef void rc_born(HeapState* heap, RcState* st, Object* o) noexcept nogil:
    cdef uint32_t i = idx_of(st, o)
    if o.nslots == 0:
        return
    st.meta[i].bits = F_TRACKED | (0 if st.visited_space else F_SPACE)     # 3.14: not visited
    lst_append(st, i, head(st, H_GEN0))
    st.count[0] += 1
    st.heap_size += 1
    if st.count[0] > st.threshold[0] and st.threshold[0] > 0 and st.mode != MODE_OFF and not st.collecting:
        st.scheduled = True

cdef inline void rc_incref(HeapState* heap, RcState* st, Object* o) noexcept nogil:
    cdef RcMeta* m
    if o == NULL:
        return
    m = meta_of(st, o)
    if m.refcnt == 0:
        rc_born(heap, st, o)
    m.refcnt += 1
    if gcb_unlikely(m.refcnt > MAX_COUNT):
        heap_fail(heap, ERR_INTERNAL, "refcount: a count exceeds 2**28 - 1 (the side table's limit)")

# ---------------------------------------------------------------------------
# The cycle detector: one region (gc_collect_region / gc_collect_main's core)

# update_refs + subtract_refs: gc_refs = count minus references from inside `base`.
cdef int64_t deduce_refs(HeapState* heap, RcState* st, uint32_t base) noexcept nogil:
    cdef uint32_t x = st.meta[base].next
    cdef Object* o
    cdef Object* child
    cdef RcMeta* mc
    cdef uint32_t k
    cdef int64_t n = 0
    while x != base:
        st.meta[x].bits = (st.meta[x].bits & (F_TRACKED | F_SPACE)) | F_COLLECTING | (st.meta[x].refcnt << REFS_SHIFT)
        x = st.meta[x].next
        n += 1
    x = st.meta[base].next
    while x != base:
        o = obj_of(st, x)
        for k in range(o.nslots):
            child = obj_slots(o)[k]
            if child != NULL:
                mc = meta_of(st, child)
                if mc.bits & F_COLLECTING:
                    if GCB_DEBUG:
                        debug_assert(heap, gc_refs(mc) > 0, "refcount: gc_refs below zero (a count is too small)")
                    mc.bits -= (1 << REFS_SHIFT)
        x = st.meta[x].next
    return n

# move_unreachable: objects of `young` left at gc_refs 0 go (tentatively) to
# `unreachable`; whatever a reachable object refers to comes back (gc_refs 1) and is
# scanned in its turn, at the tail of `young`.
cdef void move_unreachable(RcState* st, uint32_t young, uint32_t unreachable) noexcept nogil:
    cdef uint32_t x = st.meta[young].next, nx, c
    cdef Object* o
    cdef Object* child
    cdef RcMeta* mc
    cdef uint32_t k
    while x != young:
        if gc_refs(&st.meta[x]) > 0:
            o = obj_of(st, x)
            for k in range(o.nslots):
                child = obj_slots(o)[k]
                if child == NULL:
                    continue
                c = idx_of(st, child)
                mc = &st.meta[c]
                if not (mc.bits & F_COLLECTING):
                    continue
                if mc.bits & F_UNREACHABLE:
                    lst_move(st, c, young)
                    mc.bits = (mc.bits & ~(<uint32_t>F_UNREACHABLE) & FLAG_MASK) | (1 << REFS_SHIFT)
                elif gc_refs(mc) == 0:
                    set_refs(mc, 1)
            # scanned: no longer collecting (visit_reachable skips it from now on)
            st.meta[x].bits &= (F_TRACKED | F_SPACE)
            x = st.meta[x].next
        else:
            nx = st.meta[x].next
            lst_move(st, x, unreachable)
            st.meta[x].bits |= F_UNREACHABLE
            x = nx

# delete_garbage: clear each unreachable object's slots (tp_clear), which frees the cycle
# through the ordinary decref worklist (freed objects unlink themselves); one that is
# still alive afterwards goes to `old`.
cdef int64_t delete_garbage(HeapState* heap, RcState* st, uint32_t unreachable, uint32_t old) noexcept nogil:
    cdef uint32_t x, k
    cdef Object* o
    cdef Object* child
    cdef int64_t n = lst_size(st, unreachable)
    while not lst_empty(st, unreachable):
        x = st.meta[unreachable].next
        o = obj_of(st, x)
        st.meta[x].refcnt += 1                    # Py_INCREF(op)
        for k in range(o.nslots):
            child = obj_slots(o)[k]
            if child != NULL:
                obj_slots(o)[k] = NULL
                rc_decref(heap, st, child)
        rc_decref(heap, st, o)                    # Py_DECREF(op): frees it if nothing else holds it
        if st.meta[unreachable].next == x:
            st.meta[x].bits &= (F_TRACKED | F_SPACE)
            lst_move(st, x, old)
    return n

# Collect the objects on list `from_`; survivors go to `to` (may be the same list).
cdef int64_t collect_region(HeapState* heap, RcState* st, uint32_t from_, uint32_t to, GenStats* gs) noexcept nogil:
    cdef uint32_t unreachable = head(st, H_UNREACHABLE)
    cdef int64_t n
    lst_init(st, unreachable)
    gs.scanned += deduce_refs(heap, st, from_)
    move_unreachable(st, from_, unreachable)
    if from_ != to:
        lst_merge(st, from_, to)
    n = delete_garbage(heap, st, unreachable, to)
    gs.collected += n
    st.collected_total += n
    return n

cdef void end_collection(HeapState* heap, RcState* st, int kind, int64_t t0, bint forced) noexcept nogil:
    cdef CycleResult r
    cdef int64_t objects
    r.heap_after = heap_in_use_exact(heap, &objects)
    r.live_bytes = r.heap_after
    r.live_objects = objects
    r.mark_ns = gcb_now_ns() - t0
    r.sweep_start_ns = 0
    r.scan_work = 0
    r.forced = forced
    r.paced = False
    r.marks_intact = False
    cycle_end(heap, kind, t0, &r)
    if GCB_DEBUG and not heap.verify:
        heap_verify(heap, False)         # debug builds check every count after every collection

# gc_collect_main (3.12) for generation `gen`.
cdef void collect_generation(HeapState* heap, RcState* st, int gen, bint forced) noexcept nogil:
    cdef int64_t t0
    cdef int i
    cdef uint32_t young, old
    cdef int kinds[3]
    kinds[0] = PAUSE_GEN0
    kinds[1] = PAUSE_GEN1
    kinds[2] = PAUSE_GEN2
    st.collecting = True
    st.scheduled = False
    t0 = cycle_begin(heap, forced)
    if gen + 1 < 3:
        st.count[gen + 1] += 1
    for i in range(gen + 1):
        st.count[i] = 0
    young = head(st, H_GEN0 + gen)
    for i in range(gen):
        lst_merge(st, head(st, H_GEN0 + i), young)
    old = head(st, H_GEN0 + gen + 1) if gen < 2 else young
    # survivors of a gen1 collection become long-lived pending (counted before they move)
    st.stats[gen].collections += 1
    collect_region_counted(heap, st, young, old, gen)
    st.collecting = False
    end_collection(heap, st, kinds[gen], t0, forced)

cdef void collect_region_counted(HeapState* heap, RcState* st, uint32_t young, uint32_t old, int gen) noexcept nogil:
    cdef uint32_t unreachable = head(st, H_UNREACHABLE)
    cdef int64_t n
    lst_init(st, unreachable)
    st.stats[gen].scanned += deduce_refs(heap, st, young)
    move_unreachable(st, young, unreachable)
    if young != old:
        if gen == 1:
            st.long_lived_pending += lst_size(st, young)
        lst_merge(st, young, old)
    else:
        st.long_lived_pending = 0
        st.long_lived_total = lst_size(st, young)
    n = delete_garbage(heap, st, unreachable, old)
    st.stats[gen].collected += n
    st.collected_total += n

# gc_collect_generations (3.12): the oldest generation over its threshold, the full one
# only when long-lived pending objects exceed a quarter of the long-lived total.
cdef void collect_generations(HeapState* heap, RcState* st) noexcept nogil:
    cdef int i
    st.scheduled = False
    i = 2
    while i >= 0:
        if st.count[i] > st.threshold[i]:
            if i == 2 and st.long_lived_pending < st.long_lived_total // 4:
                i -= 1
                continue
            collect_generation(heap, st, i, False)
            return
        i -= 1

# --- 3.14.0: the incremental collector ----------------------------------------------

cdef inline uint32_t old_space(RcState* st, int space) noexcept nogil:
    return head(st, H_GEN1 + space)

cdef inline int space_of(RcMeta* m) noexcept nogil:
    return 1 if m.bits & F_SPACE else 0

# visit_add_to_container: a tracked child not yet in the visited space flips to it and
# joins `container`.
cdef inline int64_t add_children(RcState* st, Object* o, uint32_t container) noexcept nogil:
    cdef uint32_t k, c
    cdef Object* child
    cdef int64_t n = 0
    for k in range(o.nslots):
        child = obj_slots(o)[k]
        if child == NULL:
            continue
        c = idx_of(st, child)
        if (st.meta[c].bits & F_TRACKED) and space_of(&st.meta[c]) != st.visited_space:
            st.meta[c].bits ^= F_SPACE
            lst_move(st, c, container)
            n += 1
    return n

cdef inline int64_t move_to_reachable(RcState* st, Object* o, uint32_t reachable) noexcept nogil:
    cdef uint32_t c
    if o == NULL:
        return 0
    c = idx_of(st, o)
    if (st.meta[c].bits & F_TRACKED) and space_of(&st.meta[c]) != st.visited_space:
        st.meta[c].bits ^= F_SPACE
        lst_move(st, c, reachable)
        return 1
    return 0

# mark_all_reachable: everything reachable from `reachable` moves to the visited space.
cdef int64_t mark_all_reachable(RcState* st, uint32_t reachable, uint32_t visited) noexcept nogil:
    cdef int64_t n = 0
    cdef uint32_t x
    while not lst_empty(st, reachable):
        x = st.meta[reachable].next
        lst_move(st, x, visited)
        n += add_children(st, obj_of(st, x), reachable)
    return n

# mark_stacks: the mutator's stack slots are the frames' locals.
cdef int64_t mark_stacks(HeapState* heap, RcState* st) noexcept nogil:
    cdef uint32_t reachable = head(st, H_REACHABLE)
    cdef int64_t n = 0
    cdef int r
    lst_init(st, reachable)
    for r in range(heap.roots.nstack):
        n += move_to_reachable(st, heap.roots.stack[r], reachable)
    return n + mark_all_reachable(st, reachable, old_space(st, st.visited_space))

# mark_global_roots: the globals and extra roots are the interpreter's module dicts.
cdef int64_t mark_global_roots(HeapState* heap, RcState* st) noexcept nogil:
    cdef uint32_t reachable = head(st, H_REACHABLE)
    cdef int64_t n = 0, j
    cdef int r
    lst_init(st, reachable)
    for r in range(heap.roots.nglobals):
        n += move_to_reachable(st, heap.roots.globals[r], reachable)
    for r in range(heap.roots.nextra_roots):
        for j in range(heap.roots.extra_roots[r].count):
            n += move_to_reachable(st, heap.roots.extra_roots[r].slots[j], reachable)
    return n + mark_all_reachable(st, reachable, old_space(st, st.visited_space))

cdef void completed_scavenge(RcState* st) noexcept nogil:
    cdef int not_visited, visited
    if lst_empty(st, head(st, H_PERMANENT)):
        not_visited = st.visited_space
        visited = 1 - not_visited
        st.visited_space = visited
        lst_set_space(st, head(st, H_GEN0), not_visited)
    else:
        visited = st.visited_space
        not_visited = 1 - visited
        lst_merge(st, old_space(st, visited), old_space(st, not_visited))
        lst_set_space(st, old_space(st, not_visited), not_visited)
    st.work_to_do = 0
    st.phase = PHASE_MARK

cdef int64_t assess_work_to_do(RcState* st) noexcept nogil:
    cdef int64_t scale = st.threshold[1] if st.threshold[1] >= 2 else 2
    cdef int64_t new_objects = st.count[0]
    cdef int64_t max_heap_fraction = new_objects * 3 // 2
    cdef int64_t heap_fraction = st.heap_size // SCAN_RATE_DIVISOR // scale
    if heap_fraction > max_heap_fraction:
        heap_fraction = max_heap_fraction
    st.count[0] = 0
    return new_objects + heap_fraction

# gc_collect_increment (3.14.0)
cdef void collect_increment(HeapState* heap, RcState* st) noexcept nogil:
    cdef int64_t t0, marked, increment_size
    cdef int64_t scale = st.threshold[1] if st.threshold[1] >= 2 else 2
    cdef uint32_t not_visited, visited, increment, survivors, x
    cdef GenStats* gs = &st.stats[4]
    st.collecting = True
    st.scheduled = False
    t0 = cycle_begin(heap, False)
    gs.collections += 1
    st.work_to_do += assess_work_to_do(st)
    if st.phase == PHASE_MARK:
        # mark_at_start: what the globals and the stack reach is visited, not scanned
        marked = mark_global_roots(heap, st) + mark_stacks(heap, st)
        st.work_to_do -= marked
        st.phase = PHASE_COLLECT
        gs.scanned += marked
        st.collecting = False
        end_collection(heap, st, PAUSE_INCREMENT, t0, False)
        return
    not_visited = old_space(st, 1 - st.visited_space)
    visited = old_space(st, st.visited_space)
    increment = head(st, H_INCREMENT)
    survivors = head(st, H_SURVIVORS)
    lst_init(st, increment)
    lst_init(st, survivors)
    marked = mark_stacks(heap, st)
    st.work_to_do -= marked
    lst_set_space(st, head(st, H_GEN0), st.visited_space)
    lst_merge(st, head(st, H_GEN0), increment)
    increment_size = lst_size(st, increment)
    while increment_size < st.work_to_do:
        if lst_empty(st, not_visited):
            break
        x = st.meta[not_visited].next
        lst_move(st, x, increment)
        increment_size += 1
        st.meta[x].bits = (st.meta[x].bits & ~(<uint32_t>F_SPACE)) | (F_SPACE if st.visited_space else 0)
        # expand_region_transitively_reachable: from x to the end of the increment
        while x != increment:
            increment_size += add_children(st, obj_of(st, x), increment)
            x = st.meta[x].next
    collect_region(heap, st, increment, survivors, gs)
    lst_merge(st, survivors, visited)
    st.work_to_do += st.heap_size // SCAN_RATE_DIVISOR // scale
    st.work_to_do -= increment_size
    if lst_empty(st, not_visited):
        completed_scavenge(st)
    st.collecting = False
    end_collection(heap, st, PAUSE_INCREMENT, t0, False)

# gc_collect_full (3.14.0)
cdef void collect_full_incremental(HeapState* heap, RcState* st, bint forced) noexcept nogil:
    cdef int64_t t0
    cdef uint32_t young = head(st, H_GEN0)
    cdef uint32_t pending = old_space(st, 1 - st.visited_space)
    cdef uint32_t visited = old_space(st, st.visited_space)
    st.collecting = True
    st.scheduled = False
    t0 = cycle_begin(heap, forced)
    st.stats[2].collections += 1
    lst_merge(st, young, pending)
    lst_set_space(st, pending, st.visited_space)
    st.count[0] = 0
    lst_merge(st, pending, visited)
    collect_region(heap, st, visited, visited, &st.stats[2])
    st.count[0] = 0
    st.count[1] = 0
    st.count[2] = 0
    completed_scavenge(st)
    st.collecting = False
    end_collection(heap, st, PAUSE_GEN2, t0, forced)

# ---------------------------------------------------------------------------
# Hooks

cdef inline void run_scheduled(HeapState* heap, RcState* st) noexcept nogil:
    # _Py_RunGC at the eval breaker: the mutator's next counted stack write
    if st.mode == MODE_GENERATIONAL:
        collect_generations(heap, st)
    elif st.mode == MODE_INCREMENTAL:
        collect_increment(heap, st)
    else:
        st.scheduled = False

cdef void rc_stack_write(HeapState* heap, int r, Object* value) noexcept nogil:
    cdef RcState* st = rc_state(heap)
    cdef Object* old = heap.roots.stack[r]
    rc_incref(heap, st, value)
    heap.roots.stack[r] = value
    rc_decref(heap, st, old)
    if gcb_unlikely(st.scheduled):
        run_scheduled(heap, st)

cdef void rc_write_barrier(HeapState* heap, Object** slot, Object* value) noexcept nogil:
    cdef RcState* st = rc_state(heap)
    cdef Object* old = slot[0]
    rc_incref(heap, st, value)
    slot[0] = value
    rc_decref(heap, st, old)

cdef void rc_collect_full(HeapState* heap, bint forced) noexcept nogil:
    cdef RcState* st = rc_state(heap)
    if st.collecting or st.draining:
        return
    if st.mode == MODE_INCREMENTAL:
        collect_full_incremental(heap, st, forced)
    else:
        collect_generation(heap, st, 2, forced)

cdef void rc_collect(HeapState* heap) noexcept nogil:
    # gc.collect(): a full collection whatever the mode (gc.disable() does not stop it)
    rc_collect_full(heap, True)

cdef void rc_out_of_memory(HeapState* heap) noexcept nogil:
    rc_collect_full(heap, True)

# gc.freeze(): every tracked object to the permanent generation.
cdef void rc_freeze(RcState* st) noexcept nogil:
    cdef uint32_t perm = head(st, H_PERMANENT)
    if st.mode == MODE_INCREMENTAL:
        lst_set_space(st, head(st, H_GEN0), st.visited_space)
        lst_merge(st, head(st, H_GEN0), perm)
        lst_set_space(st, old_space(st, 1 - st.visited_space), st.visited_space)
        lst_merge(st, head(st, H_GEN1), perm)
        lst_merge(st, head(st, H_GEN2), perm)
    else:
        lst_merge(st, head(st, H_GEN0), perm)
        lst_merge(st, head(st, H_GEN1), perm)
        lst_merge(st, head(st, H_GEN2), perm)
    st.count[0] = 0
    st.frozen = True

cdef void rc_poll(HeapState* heap) noexcept nogil:
    cdef RcState* st = rc_state(heap)
    if st.freeze_after_ops > 0 and not st.frozen and heap.mutator_ops >= st.freeze_after_ops:
        rc_freeze(st)

cdef void rc_verify(HeapState* heap) noexcept nogil:
    cdef RcState* st = rc_state(heap)
    verify_reference_counts(heap, <const char*>st.meta, sizeof(RcMeta))

cdef void rc_destroy(HeapState* heap) noexcept nogil:
    cdef RcState* st = rc_state(heap)
    if st == NULL:
        return
    heap.count_stack = 0
    heap.barrier_on = 0
    if st.meta != NULL:
        unmap(st.meta, st.meta_bytes)
    mark_stack_free(&st.trash)
    free(st)
    heap.collector.state = NULL


def thresholds(dict opts):
    """(t0, t1, t2) for these options: the preset's, overridden by threshold0..2."""
    preset = opts.get("preset", "auto")
    if preset == "auto":
        preset = "3.14" if opts.get("cycles") == "incremental" else "3.12"
    out = list(PRESETS[preset])
    for i in range(3):
        if opts.get(f"threshold{i}", -1) >= 0:
            out[i] = opts[f"threshold{i}"]
    return tuple(out)


def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    cdef RcState* st
    cdef uint64_t ngranules = <uint64_t>h.pages.arena_bytes >> 3
    cdef int i
    if ngranules + NHEADS >= (<uint64_t>1 << 32):
        raise ValueError(f"refcount: a heap of {h.pages.arena_bytes} bytes is too large for its "
                         f"32-bit side-table links (at most 32 GiB)")
    if h.stress_allocs > 0:
        raise ValueError("refcount frees at once and collects cycles by its thresholds: --stress does not apply")
    t = thresholds(opts)
    collector_init(heap, NAME)
    st = <RcState*>calloc(1, sizeof(RcState))
    if st == NULL:
        raise MemoryError()
    h.collector.state = st
    h.collector.destroy = rc_destroy
    st.meta_bytes = (ngranules + NHEADS) * sizeof(RcMeta)
    st.meta = <RcMeta*>map_zeroed(st.meta_bytes)
    if st.meta == NULL:
        raise MemoryError(f"cannot map the reference-count table ({st.meta_bytes} bytes)")
    st.heads = <uint32_t>ngranules
    st.arena = h.pages.arena
    for i in range(NHEADS):
        lst_init(st, head(st, i))
    st.mode = {"off": MODE_OFF, "generational": MODE_GENERATIONAL, "incremental": MODE_INCREMENTAL}[opts.get("cycles", "generational")]
    for i in range(3):
        st.threshold[i] = t[i]
    st.freeze_after_ops = opts.get("freeze_after_ops", 0)
    st.phase = PHASE_MARK
    h.collector.stack_write = rc_stack_write
    h.collector.write_barrier = rc_write_barrier
    h.collector.collect = rc_collect
    h.collector.out_of_memory = rc_out_of_memory
    h.collector.verify_plan = rc_verify
    if st.freeze_after_ops > 0:
        h.collector.poll_hook = rc_poll
    h.count_stack = 1
    h.barrier_on = 1


GEN_NAMES = ("gen0", "gen1", "gen2", "young", "increment")


def collection_stats(ManagedHeap heap):
    """Per generation (gen0, gen1, gen2, young, increment): collections, objects found
    unreachable, objects scanned; and the objects freed by counts reaching zero."""
    cdef RcState* st
    if heap.collector_name != NAME or heap.state.collector.state == NULL:
        raise ValueError("the heap's collector is not refcount")
    st = <RcState*>heap.state.collector.state
    out = {GEN_NAMES[i]: {"collections": st.stats[i].collections, "collected": st.stats[i].collected,
                          "scanned": st.stats[i].scanned} for i in range(5)}
    out["freed_by_count"] = st.freed_by_count
    out["collected_total"] = st.collected_total
    out["tracked"] = st.heap_size
    out["frozen"] = lst_size(st, head(st, H_PERMANENT))
    return out


def test_only_add_reference(ManagedHeap heap, int root):
    """Test-only damage: one count too many on the object in stack slot `root` (a leaked
    reference), so tests can prove the verifier's recount fails."""
    cdef RcState* st = <RcState*>heap.state.collector.state
    cdef Object* o = heap.state.roots.stack[root]
    if heap.collector_name != NAME or st == NULL or o == NULL:
        raise ValueError("needs a refcount heap with an object in that stack slot")
    meta_of(st, o).refcnt += 1
