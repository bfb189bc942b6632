# cython: language_level=3
#
# heap.pxd: the C-level contract between the heap, the collectors, the mutator and
# the harness (as numpy's bit_generator.pxd is for its generators).
#
# Memory layout.  One arena of `npages` pages of PAGE_SIZE bytes.  A span is a run of
# pages holding objects of one size class (or one large object).  Spans are described
# by `Span` records indexed by their first page; `page_map[p]` is the first page of the
# span that contains page p.  Each span's allocation and mark bitmaps live in two side
# areas, at `BITMAP_WORDS_PER_PAGE * start_page`: a span of n pages always has room for
# n * PAGE_SIZE / MIN_OBJECT bits.
#
# An object starts with an 8-byte header (pointer-slot count, requested size in bytes),
# followed by its pointer slots (real addresses of other objects, or NULL), followed by
# its payload.  Collectors reach object layout only through the inline helpers here.
#
# Allocation state follows Go's mspan: every object below `freeindex` is allocated;
# at or above it, an object is allocated iff its alloc bit is set.  A current span may
# also hold a bump run (see Span.bump_next) that the fast path consumes first.  Sweeping makes the
# mark bits the new alloc bits (`allocBits = gcmarkBits`) and resets freeindex to 0.
#
# Sweep generations follow Go's mcentral: `sweepgen` grows by 2 per cycle; a span with
# span.sweepgen == heap.sweepgen is swept, == heap.sweepgen - 2 needs sweeping.  The
# per-class span lists are doubled and indexed by (sweepgen >> 1) & 1, so that the
# "flip" at mark termination turns every swept list into an unswept one in O(1).

from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t, int64_t, uintptr_t

cdef extern from "gcb_util.h" nogil:
    int64_t gcb_now_ns()
    int64_t gcb_thread_cpu_ns()
    int gcb_ctz64(uint64_t x)
    int gcb_popcount64(uint64_t x)
    bint gcb_likely(bint x)
    bint gcb_unlikely(bint x)
    void gcb_prefetch(const void* p)
    void gcb_prefetch_w(const void* p)
    uint64_t gcb_load_u64(const uint64_t* p)
    uint64_t gcb_fetch_or_u64(uint64_t* p, uint64_t v)
    void* gcb_load_ptr(void* const* p)
    void gcb_store_ptr(void** p, void* v)
    int gcb_load_int(const int* p)
    void gcb_store_int(int* p, int v)
    int64_t gcb_load_i64(const int64_t* p)
    void gcb_store_i64(int64_t* p, int64_t v)
    int64_t gcb_fetch_add_i64(int64_t* p, int64_t v)
    void gcb_cpu_relax()
    void gcb_install_sigint()
    void gcb_restore_sigint()
    bint gcb_sigint_pending()
    ctypedef struct gcb_escape:
        pass
    ctypedef void (*gcb_fn)(void*) noexcept nogil
    int gcb_call_protected(gcb_escape* env, gcb_fn fn, void* arg)
    void gcb_throw(gcb_escape* env)
    # debug builds: 1, else 0 (a C constant, so `if GCB_DEBUG:` blocks vanish in release)
    const bint GCB_DEBUG
    const int GCB_POISON_BYTE
    const uint32_t GCB_POISON_WORD32

cdef enum:
    PAGE_SHIFT = 13
    PAGE_SIZE = 8192
    MIN_OBJECT = 16
    BITMAP_WORDS_PER_PAGE = 8        # PAGE_SIZE / MIN_OBJECT / 64
    HEADER_BYTES = 8
    MAX_SMALL_SIZE = 32768
    MAX_CLASSES = 72                 # class 0 is "large"
    MAX_STACK_SLOTS = 256
    MAX_GLOBALS = 64
    MAX_EXTRA_ROOTS = 16
    NO_SPAN = -1
    PREFETCH_DEPTH = 8               # mark loop prefetch FIFO (a power of two)

# Span.alloc_flags: extra work for every object the fast path takes from the span.
cdef enum:
    ALLOC_CLEAR_SLOTS = 1            # reused memory: clear the pointer slots
    ALLOC_BLACK = 2                  # marking is on: the object is born marked

# Span states.
cdef enum:
    SPAN_FREE = 0
    SPAN_SMALL = 1
    SPAN_LARGE = 2

# Error codes (HeapState.error_code).  The harness maps them to exceptions.
cdef enum:
    ERR_NONE = 0
    ERR_HEAP_EXHAUSTED = 1
    ERR_HEAP_CORRUPTION = 2
    ERR_INTERRUPTED = 3
    ERR_INVALID = 4
    ERR_INTERNAL = 5

# Pause kinds (PauseRecord.kind); names in heap.pyx PAUSE_KIND_NAMES.
cdef enum:
    PAUSE_STW_COLLECT = 0            # a whole stop-the-world collection
    PAUSE_MARK_START = 1             # sweep termination + mark setup (Go: STW sweep termination)
    PAUSE_MARK_TERMINATION = 2       # Go: STW mark termination
    PAUSE_FULL_GC = 3                # a forced full collection (runtime.GC(), out of memory)

ctypedef struct Object:
    uint32_t nslots                  # pointer slots that follow the header
    uint32_t nbytes                  # requested size, header included

ctypedef struct Span:
    # A bump run: while this span is some class's current span, [bump_next, bump_end) may
    # be a run of consecutive free objects that the fast path hands out by bumping a
    # pointer.  The run is counted in alloc_count/alloc_bytes when it is set up;
    # freeindex and alloc_cache still describe its start.  span_sync() gives back what
    # is left and brings freeindex up to date; whatever reads freeindex or the counters
    # exactly (sweeping, the verifier, the end of a run) syncs first.  NULL/NULL: no run.
    char* bump_next
    char* bump_end
    char* base
    uint64_t* alloc_bits
    uint64_t* mark_bits
    uint64_t alloc_cache             # free bits of freeindex's word from freeindex on, bits
                                     # past nelems clear (Go's allocCache); may be 0 (stale)
                                     # when freeindex is a multiple of 64
    uint32_t freeindex
    uint32_t nelems
    uint32_t elemsize
    uint32_t divmul                  # index = (offset * divmul) >> 32
    uint32_t start_page
    uint32_t npages
    uint32_t sweepgen
    int32_t next                     # list links: start pages, NO_SPAN at the ends
    int32_t prev
    uint8_t state
    uint8_t sizeclass
    uint8_t needzero                 # memory may hold old data: clear slots on allocation
    uint8_t alloc_flags              # set while the span is some class's current span:
                                     # ALLOC_CLEAR_SLOTS | ALLOC_BLACK (one test in the fast path)

ctypedef struct SpanList:
    int32_t head
    int64_t count

ctypedef struct MarkStack:
    Object** items
    int64_t length
    int64_t capacity

ctypedef struct PauseRecord:
    int64_t start_ns
    int64_t end_ns
    int64_t kind
    int64_t cycle

ctypedef struct CycleRecord:
    int64_t start_ns                 # first stop of the cycle
    int64_t end_ns                   # world restarted after the last stop
    int64_t heap_before              # heap in use when the cycle started
    int64_t heap_after               # heap in use at mark termination (after sweep for STW)
    int64_t live_bytes               # bytes marked live
    int64_t live_objects
    int64_t goal_bytes               # next heap goal set at the end of the cycle
    int64_t mark_ns                  # wall time of marking (concurrent part included)
    int64_t sweep_ns                 # sweeping inside the pause (STW collectors)
    int64_t forced                   # 1: runtime.GC() or out of memory

# Operation recording (`gcbench record`, gcbench/traces.py).  One fixed-size record per
# mutator operation; the binary trace file is these records after a header.
cdef enum:
    TRACE_ALLOC = 1                  # a = R, x = NPTR, y = payload SIZE
    TRACE_STORE = 2                  # slot x of root a := root b (flags & TRACE_NULL: null)
    TRACE_LOAD = 3                   # root a := slot x of root b
    TRACE_CLEAR = 4                  # root a := null
    TRACE_GC = 5                     # runtime.GC()
    TRACE_GSET = 6                   # global a := root b (through the barrier)
    TRACE_GGET = 7                   # root a := global b
    TRACE_TICK = 8                   # x mutator operations without a heap effect (safepoints)
    TRACE_NULL = 1                   # flags bit of TRACE_STORE

ctypedef struct TraceRecord:
    uint8_t op
    uint8_t a
    uint8_t b
    uint8_t flags
    uint32_t x
    uint32_t y

ctypedef struct TraceBuffer:
    TraceRecord* records
    int64_t length
    int64_t capacity

ctypedef struct HeapState
ctypedef void (*heap_hook)(HeapState* heap) noexcept nogil
ctypedef void (*barrier_fn)(HeapState* heap, Object** slot, Object* new_value) noexcept nogil
ctypedef Object* (*external_alloc_fn)(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil
ctypedef void (*drop_fn)(HeapState* heap, Object* obj, bint recursive) noexcept nogil

# The collector interface: one record of function pointers, filled by one collector
# module.  Only slow paths call through it: the allocation fast path and the write
# barrier fast path are inline below and test plain fields of HeapState.
ctypedef struct Collector:
    void* state
    const char* name
    heap_hook alloc_hook             # heap.alloc_bytes reached heap.next_poll_bytes
    heap_hook poll_hook              # heap.mutator_ops reached heap.next_poll_ops
    heap_hook out_of_memory          # the page heap is full: collect to completion
    heap_hook collect                # runtime.GC(): finish any cycle, run one full cycle
    barrier_fn write_barrier         # slow path; called only while heap.barrier_on
    heap_hook finish                 # end of run: finish work, stop helper threads
    heap_hook destroy                # free `state`
    # Baselines that do not use the arena (malloc, boehm) allocate here instead: every
    # size class's current span stays empty, so heap_alloc always reaches the slow path.
    # It is told the pointer-slot count (boehm: GC_MALLOC_ATOMIC when there are none).
    external_alloc_fn external_alloc
    # The workload declares an object dead (mut_drop): only malloc acts on it.
    drop_fn drop

ctypedef struct ExtraRoots:
    Object** slots
    int64_t count

ctypedef struct HeapState:
    # --- allocation fast path (hot; keep first) ---
    Span* current[MAX_CLASSES]       # span each size class allocates from
    int64_t alloc_count
    int64_t alloc_bytes              # counted in size-class bytes (Go's TotalAlloc)
    int64_t next_poll_bytes          # alloc_bytes at which collector.alloc_hook runs
    int64_t mutator_ops
    int64_t next_poll_ops            # mutator_ops at which collector.poll_hook runs
    int allocate_black               # marking is on: new objects are born marked
    int barrier_on                   # marking is on: stores take the barrier slow path
    uint8_t size_to_class8[129]      # (size + 7) >> 3 for size <= 1024
    uint8_t size_to_class128[249]    # (size - 1024 + 127) >> 7 for larger small sizes
    uint32_t class_size[MAX_CLASSES]
    uint32_t class_npages[MAX_CLASSES]
    int nclasses

    # --- roots ---
    Object* stack[MAX_STACK_SLOTS]   # the mutator's stack slots: plain stores, no barrier
    int nstack
    Object* globals[MAX_GLOBALS]     # global slots: written through the barrier
    int nglobals
    ExtraRoots extra_roots[MAX_EXTRA_ROOTS]   # e.g. a Pool's slots (barriered like globals)
    int nextra_roots

    # --- arena and spans ---
    char* arena
    int64_t arena_bytes
    uint32_t npages
    uint32_t high_water_page         # pages at or above this were never used (zeroed)
    Span* spans
    uint32_t* page_map
    uint64_t* alloc_bits_area
    uint64_t* mark_bits_area
    SpanList partial[MAX_CLASSES][2] # swept/unswept spans with free slots
    SpanList full[MAX_CLASSES][2]    # swept/unswept spans without
    SpanList large[2]                # large-object spans, swept/unswept
    SpanList free_runs
    uint32_t sweepgen
    int64_t pages_in_use
    int64_t peak_pages_in_use
    Span empty_span                  # "current" of a class with no span: never has room

    # --- accounting ---
    int64_t freed_count
    int64_t freed_bytes
    int64_t peak_heap_bytes          # max of alloc_bytes - freed_bytes, taken before frees
    int64_t peak_live_bytes          # max marked live bytes of a cycle

    # --- pacer (Go's GOGC rule) ---
    int gogc                         # < 0: off
    int64_t heap_goal
    int64_t heap_trigger
    int64_t last_marked_bytes
    int64_t goal_overruns            # cycles in which the heap passed the goal while marking

    # --- collector ---
    Collector collector
    heap_hook cycle_start_hook       # run inside each cycle's first pause (the Pool's cleanup)
    void* cycle_start_arg
    int64_t cycles
    int64_t stress_allocs            # > 0: start a cycle every this many allocations
    int checkmark                    # re-mark with the world stopped after each concurrent mark
    int64_t poll_interval_ops

    # --- events ---
    PauseRecord* pauses
    int64_t npauses
    int64_t pauses_cap
    CycleRecord* cycle_log
    int64_t ncycle_log
    int64_t cycle_log_cap
    int64_t run_start_ns
    int64_t run_end_ns
    int64_t mutator_cpu_ns
    int64_t gc_stw_ns                # total time of all pauses
    int64_t sweep_ns                 # sweeping outside pauses (lazy sweep)
    int64_t assist_ns
    int64_t background_mark_ns
    int64_t background_cpu_ns
    int64_t barrier_slow_calls
    int64_t barrier_shades
    int64_t floating_garbage_bytes
    int64_t verify_ns
    int64_t marked_objects_total

    # --- verification ---
    int verify
    int verified_cycles
    uint64_t* verify_bits
    MarkStack verify_stack
    int corrupt_at_cycle             # test-only: damage the heap at this cycle (see heap.pyx)
    int corrupt_kind

    # --- errors: rt_fail() records and unwinds to the run's entry point ---
    int error_code
    char error_msg[1024]
    gcb_escape escape
    int in_run

    # --- operation recording: NULL unless `gcbench record` asked for it ---
    TraceBuffer* trace


# ---------------------------------------------------------------------------
# Functions implemented in heap.pyx
cdef void heap_fail(HeapState* heap, int code, const char* msg) noexcept nogil
cdef Object* heap_alloc_slow(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil
cdef void heap_poll_slow(HeapState* heap) noexcept nogil
cdef void heap_mark_roots(HeapState* heap, MarkStack* stack, bint include_stack) noexcept nogil
cdef void heap_mark_stack_roots(HeapState* heap, MarkStack* stack) noexcept nogil
cdef int64_t heap_drain(HeapState* heap, MarkStack* stack) noexcept nogil
cdef void heap_flip(HeapState* heap) noexcept nogil
cdef void heap_sweep_all(HeapState* heap) noexcept nogil
cdef bint heap_sweep_one(HeapState* heap) noexcept nogil
cdef void heap_set_goal(HeapState* heap, int64_t marked_bytes) noexcept nogil
cdef void heap_record_pause(HeapState* heap, int kind, int64_t start_ns, int64_t end_ns) noexcept nogil
cdef CycleRecord* heap_new_cycle(HeapState* heap) noexcept nogil
cdef void heap_cycle_done(HeapState* heap, CycleRecord* cycle) noexcept nogil
cdef void heap_verify(HeapState* heap, bint check_marks) noexcept nogil
cdef void mark_stack_grow(MarkStack* stack) noexcept nogil
cdef void mark_stack_free(MarkStack* stack) noexcept nogil
cdef void heap_release_current_spans(HeapState* heap) noexcept nogil
cdef void heap_sync_current_spans(HeapState* heap) noexcept nogil
# Objects (into *objects) and bytes in use, exactly: bump runs synced first.
cdef int64_t heap_in_use_exact(HeapState* heap, int64_t* objects) noexcept nogil
cdef void heap_set_allocate_black(HeapState* heap, bint on) noexcept nogil
# Hooks for collectors that have nothing to do at a point of the interface.
cdef void collector_noop(HeapState* heap) noexcept nogil
cdef void collector_never_collects(HeapState* heap) noexcept nogil    # an alloc_hook
cdef void heap_trace_append(HeapState* heap, uint8_t op, uint8_t a, uint8_t b, uint8_t flags,
                            uint32_t x, uint32_t y) noexcept nogil
# Ctrl-C check for workload loops that run long without mutator operations (waiting for
# a scheduled arrival, filling a large buffer): fails the run with ERR_INTERRUPTED.
# (The flag is per extension module in gcb_util.h, so only heap.pyx may read it.)
cdef void heap_check_interrupt(HeapState* heap) noexcept nogil
# Debug builds: the mutator touched a freed (poisoned) object; fails the run.
cdef void heap_fail_poisoned(HeapState* heap, Object* obj, const char* operation) noexcept nogil
# Debug builds: an internal invariant does not hold; fails the run (ERR_INTERNAL).
cdef void heap_fail_assert(HeapState* heap, const char* what) noexcept nogil


# ---------------------------------------------------------------------------
# Inline helpers: object layout, span lookup, mark bits.

cdef inline Object** obj_slots(Object* obj) noexcept nogil:
    return <Object**>((<char*>obj) + HEADER_BYTES)

# Debug builds fill freed objects with GCB_POISON_BYTE at sweep time (heap.pyx sweep_span).
cdef inline bint obj_is_poisoned(const Object* obj) noexcept nogil:
    return obj.nslots == GCB_POISON_WORD32 and obj.nbytes == GCB_POISON_WORD32

cdef inline Span* span_of(HeapState* heap, const void* p) noexcept nogil:
    cdef uintptr_t page = (<uintptr_t>p - <uintptr_t>heap.arena) >> PAGE_SHIFT
    return &heap.spans[heap.page_map[page]]

cdef inline uint32_t obj_index(Span* span, const void* p) noexcept nogil:
    return <uint32_t>(((<uint64_t>(<uintptr_t>p - <uintptr_t>span.base)) * span.divmul) >> 32)

cdef inline bint in_arena(HeapState* heap, const void* p) noexcept nogil:
    return <uintptr_t>p - <uintptr_t>heap.arena < <uintptr_t>heap.arena_bytes

cdef inline bint is_marked(HeapState* heap, Object* obj) noexcept nogil:
    cdef Span* span = span_of(heap, obj)
    cdef uint32_t i = obj_index(span, obj)
    return (gcb_load_u64(&span.mark_bits[i >> 6]) >> (i & 63)) & 1

# Set the mark bit; true if this call set it (the object was white).  World stopped.
cdef inline bint mark_object(HeapState* heap, Object* obj) noexcept nogil:
    cdef Span* span = span_of(heap, obj)
    cdef uint32_t i = obj_index(span, obj)
    cdef uint64_t* word = &span.mark_bits[i >> 6]
    cdef uint64_t bit = (<uint64_t>1) << (i & 63)
    if word[0] & bit:
        return False
    word[0] |= bit
    return True

# The same, safe against a concurrent marker: the first thread to set the bit owns
# the object and pushes it (grey); the others see it set and do nothing.  Returns the
# object's size-class bytes if this call set the bit (for live-byte counts), else 0.
cdef inline uint32_t mark_object_atomic(HeapState* heap, Object* obj) noexcept nogil:
    cdef Span* span = span_of(heap, obj)
    cdef uint32_t i = obj_index(span, obj)
    cdef uint64_t* word = &span.mark_bits[i >> 6]
    cdef uint64_t bit = (<uint64_t>1) << (i & 63)
    if gcb_load_u64(word) & bit:
        return 0
    if gcb_fetch_or_u64(word, bit) & bit:
        return 0
    return span.elemsize

cdef inline void mark_stack_push(MarkStack* stack, Object* obj) noexcept nogil:
    if gcb_unlikely(stack.length == stack.capacity):
        mark_stack_grow(stack)
    stack.items[stack.length] = obj
    stack.length += 1

cdef inline int64_t heap_in_use(HeapState* heap) noexcept nogil:
    return heap.alloc_bytes - heap.freed_bytes

cdef inline uint32_t size_class_of(HeapState* heap, uint32_t nbytes) noexcept nogil:
    if nbytes <= 1024:
        return heap.size_to_class8[(nbytes + 7) >> 3]
    return heap.size_to_class128[(nbytes - 1024 + 127) >> 7]

# The bytes the arena would charge for an object of `nbytes`: its size class, or whole
# pages for a large object.  Baselines outside the arena count in these units too, so
# that alloc_bytes means the same under every collector.
cdef inline int64_t charged_bytes(HeapState* heap, uint32_t nbytes) noexcept nogil:
    if nbytes <= MAX_SMALL_SIZE:
        return heap.class_size[size_class_of(heap, nbytes)]
    return ((<int64_t>nbytes + PAGE_SIZE - 1) >> PAGE_SHIFT) << PAGE_SHIFT


# ---------------------------------------------------------------------------
# Allocation fast path (Go's nextFreeFast).  Returns an object whose pointer slots
# are NULL and whose header is set; the collector's alloc hook runs first when the
# heap has grown to its poll point, so that a collection never sees the new object
# unreachable.

cdef inline Object* heap_alloc(HeapState* heap, uint32_t nslots, uint32_t payload) noexcept nogil:
    cdef uint32_t nbytes = HEADER_BYTES + nslots * 8 + payload
    cdef Span* span
    cdef uint64_t cache
    cdef int bit
    cdef uint32_t index
    cdef Object* obj
    if gcb_unlikely(heap.alloc_bytes >= heap.next_poll_bytes):
        heap.collector.alloc_hook(heap)
    if gcb_likely(nbytes <= MAX_SMALL_SIZE):
        span = heap.current[size_class_of(heap, nbytes)]
        obj = <Object*>span.bump_next
        if gcb_likely(<uintptr_t>obj < <uintptr_t>span.bump_end):
            # a run of free objects: bump (the shortest dependency chain there is); the
            # whole run was counted as allocated when it was set up (as Go counts a span
            # at refill) and what is left of it is given back when it is synced
            span.bump_next = (<char*>obj) + span.elemsize
        else:
            obj = NULL
            cache = span.alloc_cache
            if cache != 0 and span.bump_end == NULL:
                # scattered free objects: the cache holds only free objects of this span
                # (bits past nelems are masked off when it is loaded), so no bounds test
                bit = gcb_ctz64(cache)
                index = span.freeindex + bit
                span.alloc_cache = (cache >> bit) >> 1     # two shifts: bit may be 63
                span.freeindex = index + 1
                obj = <Object*>(span.base + <uint64_t>index * span.elemsize)
                heap.alloc_count += 1
                heap.alloc_bytes += span.elemsize
        if gcb_likely(obj != NULL):
            if span.alloc_flags:
                if span.alloc_flags & ALLOC_CLEAR_SLOTS:
                    clear_slots(obj, nslots)
                if span.alloc_flags & ALLOC_BLACK:
                    mark_object_atomic(heap, obj)
            (<uint64_t*>obj)[0] = <uint64_t>nslots | (<uint64_t>nbytes << 32)   # the header
            return obj
    obj = heap_alloc_slow(heap, nbytes, nslots)
    if obj == NULL:                  # only outside a run (inside, heap_fail unwinds)
        return NULL
    obj.nslots = nslots
    obj.nbytes = nbytes
    return obj

cdef extern from "string.h" nogil:
    void* memset(void* s, int c, size_t n)

# Reused memory holds a dead object's data.  Its pointer slots must be NULL before the
# object can be reached (the collector traces them); its payload is left as it is, as
# malloc leaves it (Go zeroes it: a workload that wants zeroes writes them).
# (Spelled out for small counts: gcc turns a short variable-length loop into `rep stos`,
# whose start-up cost alone doubled the allocation fast path.)
cdef inline void clear_slots(Object* obj, uint32_t nslots) noexcept nogil:
    cdef Object** slots = obj_slots(obj)
    if nslots <= 4:
        if nslots > 0:
            slots[0] = NULL
        if nslots > 1:
            slots[1] = NULL
        if nslots > 2:
            slots[2] = NULL
        if nslots > 3:
            slots[3] = NULL
    else:
        memset(slots, 0, <size_t>nslots * 8)


cdef class ManagedHeap:
    cdef HeapState* state

cdef int run_kernel(ManagedHeap heap, gcb_fn kernel, void* arg) except -1
