# cython: language_level=3
#
# heap.pxd: the C-level contract between the heap, the collectors, the mutator and the
# harness (as numpy's bit_generator.pxd is for its generators).
#
# A heap is a set of spaces plus the roots, and a few rooms that every plan shares:
#   spaces   the page heap (spaces/pages: arena, 8 KiB pages, spans, span lists), the
#            size-class mark-sweep space (spaces/sizeclass: Go's size classes, bitmaps,
#            bump runs, sweeping), the large-object space (spaces/large), and a
#            bump-pointer space with a copy reserve (spaces/bump, for copying plans).
#   roots    the mutator's stack slots, globals and extra root ranges (Roots).
#   rooms    the collection cycle (cycle.pyx: cycle_begin / cycle_pause / cycle_end and the
#            one stop-the-world collection), the event log (events), the pacer (pacer),
#            the verifier with test-only corruption (verify), operation recording (record).
#   plans    collectors/*.pyx: each fills the Collector record below with its hooks.
# Structs whose room needs nothing of the heap are defined in that room's .pxd (Pacer,
# EventLog, TraceBuffer, BumpSpace); the others are defined here, because Cython cannot
# compose a struct from a .pxd that itself cimports this file.  All of them are composed
# into HeapState.  Everything is re-exported here: cimport from gcbench_core.heap.
#
# Memory layout.  One arena of `npages` pages of PAGE_SIZE bytes.  A span is a run of
# pages holding objects of one size class (or one large object).  Spans are described
# by `Span` records indexed by their first page; `page_map[p]` is the first page of the
# span that contains page p.  Each span's allocation and mark bitmaps live in two side
# areas, at `BITMAP_WORDS_PER_PAGE * start_page`: a span of n pages always has room for
# n * PAGE_SIZE / MIN_OBJECT bits.  Object layout: object.pxd.
#
# Allocation state follows Go's mspan: every object below `freeindex` is allocated;
# at or above it, an object is allocated iff its alloc bit is set.  A current span may
# also hold a bump run (see Span.bump_next) that the fast path consumes first.  Sweeping
# makes the mark bits the new alloc bits (`allocBits = gcmarkBits`), freeindex 0.
#
# Sweep generations follow Go's mcentral: `sweepgen` grows by 2 per cycle; a span with
# span.sweepgen == heap.sweepgen is swept, == heap.sweepgen - 2 needs sweeping.  The
# per-class span lists are doubled and indexed by (sweepgen >> 1) & 1, so that the
# "flip" at mark termination turns every swept list into an unswept one in O(1).
#
# Cython and speed: a cdef function of another extension module is called through that
# module's C-API table and never inlined, so every fast path (heap_alloc, the barrier
# test, mark bits, span_of, obj_slots, the mutator's operations) is `cdef inline` in a
# .pxd; only slow paths (refill, sweep a span, verify, events, pacer) cross modules.

from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t, int64_t, uintptr_t
from gcbench_core.object cimport Object, HEADER_BYTES, obj_slots, clear_slots
from gcbench_core.events cimport (EventLog, PauseRecord, CycleRecord, PAUSE_STW_COLLECT,
                                  PAUSE_MARK_START, PAUSE_MARK_TERMINATION, PAUSE_FULL_GC,
                                  PAUSE_GEN0, PAUSE_GEN1, PAUSE_GEN2, PAUSE_YOUNG, PAUSE_INCREMENT,
                                  PAUSE_MINOR, PAUSE_MAJOR, CYCLE_FULL, CYCLE_MINOR, CYCLE_MAJOR)
from gcbench_core.pacer cimport Pacer
from gcbench_core.record cimport (TraceRecord, TraceBuffer, TRACE_ALLOC, TRACE_STORE, TRACE_LOAD,
                                  TRACE_CLEAR, TRACE_GC, TRACE_GSET, TRACE_GGET, TRACE_TICK, TRACE_NULL,
                                  TRACE_DROP, TRACE_RECURSIVE)
from gcbench_core.spaces.bump cimport BumpSpace, bump_alloc

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
    void gcb_store_int_sc(int* p, int v)
    int gcb_load_int_sc(const int* p)
    void gcb_store_i64_sc(int64_t* p, int64_t v)
    int64_t gcb_load_i64_relaxed(const int64_t* p)
    bint gcb_cas_int(int* p, int expected, int v)
    void gcb_cpu_relax()
    void gcb_install_sigint()
    void gcb_restore_sigint()
    bint gcb_sigint_pending()
    ctypedef struct gcb_escape:
        pass
    ctypedef void (*gcb_fn)(void*) noexcept nogil
    int gcb_call_protected(gcb_escape* env, gcb_fn fn, void* arg)
    void gcb_throw(gcb_escape* env)
    # the mutator thread of this OS thread (heap.pyx only: the variable is per module)
    void* gcb_current_mutator()
    void gcb_set_current_mutator(void* m)
    # debug builds: 1, else 0 (a C constant, so `if GCB_DEBUG:` blocks vanish in release)
    const bint GCB_DEBUG
    const int GCB_POISON_BYTE
    const uint32_t GCB_POISON_WORD32

cdef enum:
    PAGE_SHIFT = 13
    PAGE_SIZE = 8192
    MIN_OBJECT = 16
    BITMAP_WORDS_PER_PAGE = 8        # PAGE_SIZE / MIN_OBJECT / 64
    MAX_SMALL_SIZE = 32768
    # The largest object (8-byte header + 8 per pointer slot + payload) the heap takes:
    # sizes are 32-bit in the header and in page rounding, so 1 GiB keeps every sum exact.
    # heap_alloc refuses more (heap_refuse_object); traces and parameters are held below it.
    MAX_OBJECT_BYTES = 1073741824
    MAX_CLASSES = 72                 # class 0 is "large"
    MAX_STACK_SLOTS = 256
    MAX_GLOBALS = 64
    MAX_EXTRA_ROOTS = 16
    MAX_MUTATOR_THREADS = 64         # mutator threads of one run besides the run's own
    NO_SPAN = -1
    PREFETCH_MAX = 64                # the stop-the-world mark loops' prefetch FIFO: its
    PREFETCH_DEFAULT = 8             # room, and the depth every plan starts with (see the
                                     # note on marker_drain in collectors/tricolor.pyx for
                                     # why the default is not deeper)

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

# The stop-the-world mark loops' look-ahead (heap_drain, parmark): grey objects popped from
# a MarkStack wait here, `depth` of them, each prefetched as it enters (mark_fifo_next).
ctypedef struct MarkFifo:
    Object* items[PREFETCH_MAX]
    int head
    int count
    int depth                        # a power of two <= PREFETCH_MAX

# The size-class mark-sweep space (spaces/sizeclass.pyx).  Hot fields first: the
# allocation fast path reads `current` and the size tables.
ctypedef struct SizeClassSpace:
    Span* current[MAX_CLASSES]       # span each size class allocates from
    uint8_t size_to_class8[129]      # (size + 7) >> 3 for size <= 1024
    uint8_t size_to_class128[249]    # (size - 1024 + 127) >> 7 for larger small sizes
    uint32_t class_size[MAX_CLASSES]
    uint32_t class_npages[MAX_CLASSES]
    uint32_t size_to_charge8[129]    # class_size[size_to_class8[n]]: one load on the bump path
    int nclasses
    SpanList partial[MAX_CLASSES][2] # swept/unswept spans with free slots
    SpanList full[MAX_CLASSES][2]    # swept/unswept spans without
    Span empty_span                  # "current" of a class with no span: never has room

# The large-object space (spaces/large.pyx): one object per span of whole pages.
ctypedef struct LargeObjectSpace:
    SpanList lists[2]                # large-object spans, swept/unswept

# The page heap both mark-sweep spaces take their spans from (spaces/pages.pyx).
ctypedef struct PageHeap:
    char* arena
    int64_t arena_bytes
    uint32_t npages
    uint32_t high_water_page         # pages at or above this were never used (zeroed)
    Span* spans
    uint32_t* page_map
    uint64_t* alloc_bits_area
    uint64_t* mark_bits_area
    SpanList free_runs
    uint32_t sweepgen
    int64_t pages_in_use
    int64_t peak_pages_in_use

ctypedef struct ExtraRoots:
    Object** slots
    int64_t count

ctypedef struct Roots:
    Object* stack[MAX_STACK_SLOTS]   # the mutator's stack slots: plain stores, no barrier
    int nstack
    Object* globals[MAX_GLOBALS]     # global slots: written through the barrier
    int nglobals
    ExtraRoots extra_roots[MAX_EXTRA_ROOTS]   # e.g. a Pool's slots (barriered like globals)
    int nextra_roots

# The verifier's state (verify.pyx): its own mark bitmap and the trace's entries, each
# with its parent entry and slot (so a failure names the path from a root).
ctypedef struct VerifierState:
    uint64_t* bits                   # one bit per 8-byte granule of the arena
    uint64_t* bump_bits              # one bit per 8-byte granule of the bump space's region
    int64_t bump_bits_bytes
    MarkStack seen                   # every object reached, in breadth-first order
    int64_t* parent
    uint32_t* slot
    int64_t capacity                 # of parent and slot
    int verified_cycles
    int64_t verify_ns
    int64_t floating_garbage_bytes
    int corrupt_at_cycle             # test-only: damage the heap at this cycle (verify.pyx)
    int corrupt_kind

ctypedef struct HeapState
ctypedef void (*heap_hook)(HeapState* heap) noexcept nogil

# A mutator thread (Go's M with its P): the run's own thread is mutator 0 and uses the
# heap's own fields (roots.stack, sizeclass.current, mutator_ops: the single-threaded
# fast paths, unchanged); every further thread of a multi-threaded workload has one of
# these, registered in HeapState.mt while it runs (heap.pyx: mt_run_threads), and uses
# the mt_* operations of mutator.pxd.  Only its own thread writes it, except
# next_poll_ops (the stop requester sets it to 0) and, with the world stopped, the
# collector (stack slots, the allocation cache, the pending counts).
ctypedef struct MutatorThread:
    HeapState* heap
    int64_t ops                      # mutator operations of this thread
    int64_t next_poll_ops            # atomic: ops at which mt_poll_slow runs (0: stop requested)
    int64_t alloc_count              # taken through the allocation caches and not yet added to
    int64_t alloc_bytes              # the heap's counters (added under the heap lock / world stopped)
    Span* current[MAX_CLASSES]       # the allocation cache (Go's mcache): current span per class
    Object* stack[MAX_STACK_SLOTS]   # this thread's stack slots (roots)
    int id                           # 1.. (0 is the run's own thread)
    int blocked                      # outside the heap (mt_enter_blocked): counts as stopped
    int holds_heap_lock              # for unwinding on failure
    int64_t cpu_ns                   # thread CPU time of its run
    int64_t wall_ns
    void* gc_local                   # the plan's per-thread state (tricolor: its grey buffer)
    gcb_escape escape                # heap_fail on this thread unwinds here

# The registered mutator threads and the stop-the-world handshake (heap.pyx).  `list`
# and `count` change only under the handshake lock while no stop is in effect.
ctypedef struct MutatorThreads:
    MutatorThread* list[MAX_MUTATOR_THREADS]
    int count                        # registered threads
    int stop_requested               # atomic: a stop is requested or in effect
    int nstopped                     # registered threads parked or blocked (under the lock)
    int nblocked                     # of those, blocked outside the heap
    int64_t epoch                    # restarts so far (parked threads wait for it to change)
    int64_t request_ns               # the stop in effect: when it was requested (0: none)
    int64_t stopping_ns              # ... and the time until the last thread stopped
    MutatorThread* owner             # the thread that requested it
    int64_t threads_cpu_ns           # CPU time of every thread that has finished
    int64_t stops                    # stops completed
    void* sync                       # heap.pyx's mutexes and condition variables

# The goroutine stacks room (goroutines.pyx; Go's g.stack and gcscandone): M goroutines of K
# root slots each, multiplexed over the mutator.  The running goroutine's K slots are the
# mutator's stack slots [window, window + K); a parked goroutine's are its K slots here, in
# one C range reserved for `capacity` goroutines (never moved, so a concurrent marker can
# read it), registered as one extra root range: every stop-the-world plan marks, moves,
# verifies and (refcount) recounts parked stacks as roots.  A concurrent plan (tricolor)
# skips the range in its root scan and scans each parked goroutine once per cycle instead
# (claimed through `status`, G_SCANNING while a marker reads it), or at the goroutine's own
# safepoint (resume, park) through `scan_on_mutator`.  scan_gen[g] == gen: scanned this
# cycle (gen advances at mark start, O(1)).  Invariant: goroutines.pyx.
cdef enum:
    G_FREE = 0
    G_RUNNING = 1
    G_PARKED = 2
    G_SCANNING = 4                   # or'ed onto G_PARKED while a marker scans the slots

ctypedef void (*goroutine_scan_fn)(HeapState* heap, Object** slots, int n) noexcept nogil

ctypedef struct GoroutineStacks:
    Object** slots                   # capacity x k parked slots (NULL until a workload opens the room)
    int* status                      # per goroutine: G_FREE, G_RUNNING, G_PARKED (| G_SCANNING)
    uint32_t* scan_gen               # per goroutine: the gen in which its stack was last scanned
    int64_t* free_list               # exited goroutines' indices, reused first
    int64_t nfree
    int64_t capacity
    int64_t high                     # goroutine indices ever used: the root range is high x k slots
    int64_t live                     # runtime.NumGoroutine()
    int k
    int window                       # first mutator stack slot of the running goroutine's frame
    int64_t running                  # the running goroutine, -1: none
    # a concurrent plan's marking state (tricolor sets them; stop-the-world plans never do)
    int marking                      # marking is on: park and resume consult scan_gen
    int rescan_on_park               # (dijkstra) a goroutine that ran is rescanned when it parks
    uint32_t gen
    int64_t cursor                   # next goroutine a concurrent marker claims (atomic)
    int64_t cursor_end               # `high` at mark start
    goroutine_scan_fn scan_on_mutator
    # counters: goroutine stack slots scanned (every scan; atomic), those inside pauses,
    # and the same at the open cycle's start
    int64_t scan_slots
    int64_t scan_pause_slots
    int64_t cycle_scan_slots0
    int64_t cycle_scan_pause_slots0
    int64_t created
    int64_t exited
    int64_t parks
    int64_t resumes
ctypedef void (*barrier_fn)(HeapState* heap, Object** slot, Object* new_value) noexcept nogil
ctypedef Object* (*external_alloc_fn)(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil
ctypedef void (*drop_fn)(HeapState* heap, Object* obj, bint recursive) noexcept nogil
ctypedef void (*stack_write_fn)(HeapState* heap, int r, Object* value) noexcept nogil
ctypedef void (*thread_barrier_fn)(HeapState* heap, MutatorThread* m, Object** slot, Object* new_value) noexcept nogil
ctypedef void (*thread_hook)(HeapState* heap, MutatorThread* m) noexcept nogil

# The collector interface: one record of function pointers, filled by one collector
# module (after collector_init).  Only slow paths call through it: the allocation fast
# path and the write barrier fast path are inline below and test plain fields.
ctypedef struct Collector:
    void* state
    char name[32]
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
    # stack[r] := value, called instead of the plain store while heap.count_stack is set
    # (reference counting counts the mutator's stack slots too, as CPython counts locals)
    stack_write_fn stack_write
    # Plan-specific checks at the end of every heap_verify (refcount: every count), or NULL.
    heap_hook verify_plan
    # Plans that run several mutator threads (PlanConstraints.multi_mutator) and have a
    # barrier: the barrier's slow path on a mutator thread (its own grey buffer, in
    # m.gc_local), and a thread leaving the heap (hand over what m.gc_local holds; called
    # under the heap lock, no stop in effect).  NULL: write_barrier / nothing.
    thread_barrier_fn thread_write_barrier
    thread_hook thread_exit

ctypedef struct HeapState:
    # --- allocation fast path (hot; keep first: the counters share the first cache line
    # with the first current spans, the size tables follow the current spans) ---
    int64_t alloc_count
    int64_t alloc_bytes              # counted in size-class bytes (Go's TotalAlloc)
    int64_t next_poll_bytes          # alloc_bytes at which collector.alloc_hook runs
    int64_t mutator_ops
    int64_t next_poll_ops            # mutator_ops at which collector.poll_hook runs
    int allocate_black               # marking is on: new objects are born marked
    int barrier_on                   # marking is on: stores take the barrier slow path
    int count_stack                  # stack-slot writes go through collector.stack_write
    int alloc_bump                   # small objects are bump-allocated in `bump` (copying plans)
    SizeClassSpace sizeclass

    # --- roots and the other spaces ---
    Roots roots
    PageHeap pages
    LargeObjectSpace los
    BumpSpace bump                   # unmapped (base NULL) until a plan maps it

    # --- accounting ---
    int64_t freed_count
    int64_t freed_bytes
    int64_t peak_heap_bytes          # max of alloc_bytes - freed_bytes, taken before frees
    int64_t peak_live_bytes          # max marked live bytes of a cycle

    # --- rooms ---
    Pacer pacer
    EventLog events
    VerifierState verifier
    GoroutineStacks goroutines       # goroutine stacks (goroutines.pyx); slots NULL: none

    # --- collector and options ---
    Collector collector
    MarkStack* mark_stack            # the stop-the-world collection's (heap_collect_stw); its own
                                     # allocation, away from the fields the drain loop reads
    heap_hook cycle_start_hook       # run by cycle_begin, inside the first pause (Pool cleanup)
    void* cycle_start_arg
    int64_t stress_allocs            # > 0: start a cycle every this many allocations
    int checkmark                    # re-mark with the world stopped after each concurrent mark
    int verify                       # verify the heap at the end of every cycle
    int64_t poll_interval_ops
    int prefetch_depth               # objects the stop-the-world mark loops (heap_drain,
                                     # parmark) look ahead: a power of two <= PREFETCH_MAX;
                                     # PREFETCH_DEFAULT unless the plan sets it (marksweep's
                                     # `prefetch` option)
    void* par_mark                   # markers=N > 1: the plan's ParMark (parmark.pxd), which
                                     # heap_collect_stw marks with; NULL: one marker (heap_drain)

    # --- time and work counters ---
    int64_t run_start_ns
    int64_t run_end_ns
    int64_t mutator_cpu_ns
    int64_t sweep_ns                 # sweeping outside pauses (lazy sweep)
    int64_t assist_ns
    int64_t background_mark_ns
    int64_t background_cpu_ns
    int64_t barrier_slow_calls
    int64_t barrier_shades
    int64_t marked_objects_total
    # copying and generational plans
    int64_t copied_objects           # objects evacuated (semispace copies, nursery promotions)
    int64_t copied_bytes
    int64_t promoted_bytes           # bytes that moved from the young generation to the old
    int64_t remset_entries           # remembered-set entries logged by the barrier (object barrier)
    int64_t cards_dirtied            # card-table entries dirtied by the barrier (card barrier)
    int64_t card_scan_bytes          # bytes of old objects scanned for dirty cards

    # --- errors: heap_fail() records and unwinds to the run's entry point ---
    int error_code
    char error_msg[1024]
    gcb_escape escape
    int in_run

    # --- operation recording: NULL unless `gcbench record` asked for it ---
    TraceBuffer* trace

    # --- mutator threads besides the run's own (empty in a single-threaded run) ---
    MutatorThreads mt


# ---------------------------------------------------------------------------
# Functions implemented in heap.pyx (the heap as a whole: errors, allocation slow path
# dispatch to the spaces, safepoints, marking from the roots, the run entry point).
cdef void heap_fail(HeapState* heap, int code, const char* msg) noexcept nogil
cdef Object* heap_alloc_slow(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil
cdef void heap_poll_slow(HeapState* heap) noexcept nogil
cdef void heap_mark_roots(HeapState* heap, MarkStack* stack, bint include_stack) noexcept nogil
cdef void heap_mark_stack_roots(HeapState* heap, MarkStack* stack) noexcept nogil
# Moving plans: call `fn(heap, slot, arg)` on every root slot that holds a non-NULL
# pointer (stack slots, globals, extra roots), world stopped; fn may rewrite *slot.
ctypedef void (*root_visit_fn)(HeapState* heap, Object** slot, void* arg) noexcept nogil
cdef void heap_visit_roots(HeapState* heap, root_visit_fn fn, void* arg) noexcept nogil
cdef int64_t heap_drain(HeapState* heap, MarkStack* stack) noexcept nogil
cdef void mark_stack_grow(MarkStack* stack) noexcept nogil
cdef void mark_stack_free(MarkStack* stack) noexcept nogil
# Every space's sweeping: flip the generation, sweep one span / everything.
cdef void heap_flip(HeapState* heap) noexcept nogil
cdef bint heap_sweep_one(HeapState* heap) noexcept nogil
cdef void heap_sweep_all(HeapState* heap) noexcept nogil
cdef void heap_release_current_spans(HeapState* heap) noexcept nogil
cdef void heap_sync_current_spans(HeapState* heap) noexcept nogil
# Objects (into *objects) and bytes in use, exactly: bump runs synced first.
cdef int64_t heap_in_use_exact(HeapState* heap, int64_t* objects) noexcept nogil
cdef void heap_set_allocate_black(HeapState* heap, bint on) noexcept nogil
# Hooks for collectors that have nothing to do at a point of the interface.
cdef void collector_noop(HeapState* heap) noexcept nogil
cdef void collector_never_collects(HeapState* heap) noexcept nogil    # an alloc_hook
# Recording's slow path (record.pxd): append, failing the run when out of memory.
cdef void heap_trace_append(HeapState* heap, uint8_t op, uint8_t a, uint8_t b, uint8_t flags,
                            uint32_t x, uint32_t y) noexcept nogil
# Ctrl-C check for workload loops that run long without mutator operations (waiting for
# a scheduled arrival, filling a large buffer): fails the run with ERR_INTERRUPTED.
# gcb_util.h's SIGINT flag is per extension module: heap.pyx installs the handler, so
# heap.pyx is the only module that may read it (here and in heap_poll_slow).
cdef void heap_check_interrupt(HeapState* heap) noexcept nogil
# Debug builds: the mutator touched a freed (poisoned) object; fails the run.
cdef void heap_fail_poisoned(HeapState* heap, Object* obj, const char* operation) noexcept nogil
# Debug builds: an internal invariant does not hold; fails the run (ERR_INTERNAL).
cdef void heap_fail_assert(HeapState* heap, const char* what) noexcept nogil
# An allocation larger than MAX_OBJECT_BYTES (or whose size does not fit in 32 bits):
# fails the run (ERR_INVALID) and returns NULL (outside a run).
cdef Object* heap_refuse_object(HeapState* heap, uint32_t nslots, uint32_t payload) noexcept nogil
# Ctrl-C check that never unwinds (the verifier, also called outside a run): true, with
# the error recorded as ERR_INTERRUPTED, when SIGINT arrived.
cdef bint heap_interrupt_requested(HeapState* heap) noexcept nogil
# The SIGINT flag, read without failing the run (the parallel marker's marker 0 stops every
# marker first, then fails the run with heap_check_interrupt).
cdef bint heap_sigint_pending() noexcept nogil
# Mutator threads (heap.pyx): the safepoint and allocation slow paths of a thread, the
# blocked state (Go's entersyscall/exitsyscall), the stop-the-world handshake, and the
# entry point that runs `kernel(args[i])` on `n` new OS threads with threads[i] as their
# mutator (the calling thread, mutator 0, waits blocked; it fails the run if one failed).
cdef void mt_poll_slow(MutatorThread* m) noexcept nogil
cdef Object* mt_alloc_slow(MutatorThread* m, uint32_t nbytes, uint32_t nslots) noexcept nogil
# runtime.GC() on a mutator thread: the plan's collect under the heap lock (it stops the world).
cdef void mt_collect(MutatorThread* m) noexcept nogil
cdef void mt_enter_blocked(MutatorThread* m) noexcept nogil
cdef void mt_leave_blocked(MutatorThread* m) noexcept nogil
cdef bint world_stop(HeapState* heap, MutatorThread* m) noexcept nogil
cdef void world_start(HeapState* heap) noexcept nogil
cdef void mt_run_threads(HeapState* heap, int n, MutatorThread* threads, gcb_fn kernel, void** args) noexcept nogil
# A multi-threaded workload's N thread records and kernel arguments (args[i] is for thread
# i; the workload sets them): allocated zeroed (MemoryError when they cannot be), freed,
# and the threads' figures for the result (threads, thread_cpu_s, thread_wall_s, thread_ops).
ctypedef struct MutatorGroup:
    int n
    MutatorThread* threads
    void** args
cdef int mt_group_init(MutatorGroup* group, int n) except -1
cdef void mt_group_free(MutatorGroup* group) noexcept
cdef dict mt_group_figures(MutatorGroup* group)
# A plan's pause with mutator threads running: stop every other thread (the caller holds
# the heap lock: every collector entry from a thread does) / restart them.  No-ops when
# no thread is registered (a single-threaded run), so plans call them around every pause.
# The stop's request time and time to safepoint go into the pause (cycle.pyx).
cdef void heap_stop_world(HeapState* heap) noexcept nogil
cdef void heap_start_world(HeapState* heap) noexcept nogil
# The mutator thread running the caller (NULL: the run's own thread, mutator 0).
cdef MutatorThread* heap_current_thread() noexcept nogil


# ---------------------------------------------------------------------------
# Inline helpers: span lookup, mark bits.

# Call as `if GCB_DEBUG: debug_assert(...)`, so that release builds do not even evaluate
# the condition.  It unwinds like heap_fail: only on the mutator's thread.
cdef inline void debug_assert(HeapState* heap, bint ok, const char* what) noexcept nogil:
    if not ok:
        heap_fail_assert(heap, what)

# Debug builds fill freed objects with GCB_POISON_BYTE at sweep time (spaces/sizeclass.pyx).
cdef inline bint obj_is_poisoned(const Object* obj) noexcept nogil:
    return obj.nslots == GCB_POISON_WORD32 and obj.nbytes == GCB_POISON_WORD32

cdef inline Span* span_of(HeapState* heap, const void* p) noexcept nogil:
    cdef uintptr_t page = (<uintptr_t>p - <uintptr_t>heap.pages.arena) >> PAGE_SHIFT
    return &heap.pages.spans[heap.pages.page_map[page]]

cdef inline uint32_t obj_index(Span* span, const void* p) noexcept nogil:
    return <uint32_t>(((<uint64_t>(<uintptr_t>p - <uintptr_t>span.base)) * span.divmul) >> 32)

cdef inline bint in_arena(HeapState* heap, const void* p) noexcept nogil:
    return <uintptr_t>p - <uintptr_t>heap.pages.arena < <uintptr_t>heap.pages.arena_bytes

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

cdef inline void mark_fifo_init(MarkFifo* fifo, int depth) noexcept nogil:
    fifo.head = 0
    fifo.count = 0
    fifo.depth = depth

# The next grey object to scan: the FIFO is topped up from the stack first (prefetching
# each object it takes), then its oldest object leaves it.  NULL when both are empty.
cdef inline Object* mark_fifo_next(MarkFifo* fifo, MarkStack* stack) noexcept nogil:
    cdef Object* obj
    cdef int mask = fifo.depth - 1
    while fifo.count < fifo.depth and stack.length > 0:
        stack.length -= 1
        obj = stack.items[stack.length]
        gcb_prefetch(obj)
        fifo.items[(fifo.head + fifo.count) & mask] = obj
        fifo.count += 1
    if fifo.count == 0:
        return NULL
    obj = fifo.items[fifo.head]
    fifo.head = (fifo.head + 1) & mask
    fifo.count -= 1
    return obj

# What the FIFO still holds goes back to the stack (a drain that stops early).
cdef inline void mark_fifo_return(MarkFifo* fifo, MarkStack* stack) noexcept nogil:
    cdef int i
    for i in range(fifo.count):
        mark_stack_push(stack, fifo.items[(fifo.head + i) & (fifo.depth - 1)])
    fifo.count = 0

cdef inline int64_t heap_in_use(HeapState* heap) noexcept nogil:
    return heap.alloc_bytes - heap.freed_bytes

cdef inline uint32_t size_class_of(HeapState* heap, uint32_t nbytes) noexcept nogil:
    if nbytes <= 1024:
        return heap.sizeclass.size_to_class8[(nbytes + 7) >> 3]
    return heap.sizeclass.size_to_class128[(nbytes - 1024 + 127) >> 7]

# The bytes the arena would charge for an object of `nbytes`: its size class, or whole
# pages for a large object.  Baselines outside the arena count in these units too, so
# that alloc_bytes means the same under every collector.
cdef inline int64_t charged_bytes(HeapState* heap, uint32_t nbytes) noexcept nogil:
    if nbytes <= MAX_SMALL_SIZE:
        return heap.sizeclass.class_size[size_class_of(heap, nbytes)]
    return ((<int64_t>nbytes + PAGE_SIZE - 1) >> PAGE_SHIFT) << PAGE_SHIFT


# ---------------------------------------------------------------------------
# Allocation fast path (Go's nextFreeFast).  Returns an object whose pointer slots
# are NULL and whose header is set; the collector's alloc hook runs first when the
# heap has grown to its poll point, so that a collection never sees the new object
# unreachable.

# The objects in the bump space's to-space (or nursery) and their charged bytes; a plan
# that empties or refills the space sets them with bump_set_contents.
cdef inline int64_t bump_objects(HeapState* heap) noexcept nogil:
    return heap.alloc_count - heap.bump.count_base

cdef inline int64_t bump_charged(HeapState* heap) noexcept nogil:
    return heap.alloc_bytes - heap.bump.charge_base

cdef inline void bump_set_contents(HeapState* heap, int64_t objects, int64_t charged) noexcept nogil:
    heap.bump.count_base = heap.alloc_count - objects
    heap.bump.charge_base = heap.alloc_bytes - charged

# Copying plans (heap.alloc_bump): a small object is bumped out of the bump space's
# current half (or nursery), taking its size rounded up to 8 bytes; it is charged its size
# class, as every collector charges (alloc_bytes means the same under all of them; the
# bump space's `charged` sums it).  The memory may hold an old copy: slots are cleared.
cdef inline Object* heap_alloc_bump(HeapState* heap, uint32_t nslots, uint32_t nbytes) noexcept nogil:
    # the bump of spaces/bump.pxd's bump_alloc, inline here so that the compiler tests
    # the room once (no NULL test of the result), and the charge in one table load for
    # sizes up to 1024 bytes
    cdef char* cursor = heap.bump.cursor
    cdef uint64_t size = (<uint64_t>nbytes + 7) & ~(<uint64_t>7)
    cdef Object* obj
    cdef uint32_t charge
    if gcb_likely(nbytes <= MAX_SMALL_SIZE and <uint64_t>(heap.bump.limit - cursor) >= size):
        heap.bump.cursor = cursor + size
        obj = <Object*>cursor
        if gcb_likely(nbytes <= 1024):
            charge = heap.sizeclass.size_to_charge8[(nbytes + 7) >> 3]
        else:
            charge = heap.sizeclass.class_size[heap.sizeclass.size_to_class128[(nbytes - 1024 + 127) >> 7]]
        heap.alloc_count += 1
        heap.alloc_bytes += charge
        clear_slots(obj, nslots)
        (<uint64_t*>obj)[0] = <uint64_t>nslots | (<uint64_t>nbytes << 32)   # the header
        return obj
    obj = heap_alloc_slow(heap, nbytes, nslots)
    if obj == NULL:                  # only outside a run (inside, heap_fail unwinds)
        return NULL
    obj.nslots = nslots
    obj.nbytes = nbytes
    return obj

# The size-class fast path, from the allocating thread's own cache `current` (mutator 0's
# is the space's; a thread's is its MutatorThread's): the class's current span hands out
# its bump run or, from scattered free objects, the next bit of its alloc cache (counted
# into *count and *nbytes: the thread's own counters); the object gets its header.  NULL
# when the span has nothing left (the caller takes its slow path, which refills).
cdef inline Object* sizeclass_alloc_fast(HeapState* heap, Span** current, int64_t* count, int64_t* nbytes_count,
                                         uint32_t nslots, uint32_t nbytes) noexcept nogil:
    cdef Span* span = current[size_class_of(heap, nbytes)]
    cdef Object* obj = <Object*>span.bump_next
    cdef uint64_t cache
    cdef int bit
    cdef uint32_t index
    if gcb_likely(<uintptr_t>obj < <uintptr_t>span.bump_end):
        # a run of free objects: bump (the shortest dependency chain there is); the
        # whole run was counted as allocated when it was set up (as Go counts a span
        # at refill) and what is left of it is given back when it is synced
        span.bump_next = (<char*>obj) + span.elemsize
    else:
        cache = span.alloc_cache
        if cache == 0 or span.bump_end != NULL:
            return NULL
        # scattered free objects: the cache holds only free objects of this span
        # (bits past nelems are masked off when it is loaded), so no bounds test
        bit = gcb_ctz64(cache)
        index = span.freeindex + bit
        span.alloc_cache = (cache >> bit) >> 1     # two shifts: bit may be 63
        span.freeindex = index + 1
        obj = <Object*>(span.base + <uint64_t>index * span.elemsize)
        count[0] += 1
        nbytes_count[0] += span.elemsize
    if span.alloc_flags:
        if span.alloc_flags & ALLOC_CLEAR_SLOTS:
            clear_slots(obj, nslots)
        if span.alloc_flags & ALLOC_BLACK:
            mark_object_atomic(heap, obj)
    (<uint64_t*>obj)[0] = <uint64_t>nslots | (<uint64_t>nbytes << 32)   # the header
    return obj

cdef inline Object* heap_alloc(HeapState* heap, uint32_t nslots, uint32_t payload) noexcept nogil:
    # the size in 64 bits: 8 + 8 * nslots + payload wraps in 32 (a 0-byte object whose
    # slots lie outside it); anything above MAX_OBJECT_BYTES leaves by the slow branch
    cdef uint64_t wide = <uint64_t>HEADER_BYTES + (<uint64_t>nslots << 3) + payload
    cdef uint32_t nbytes = <uint32_t>wide
    cdef Object* obj
    if gcb_unlikely(heap.alloc_bytes >= heap.next_poll_bytes):
        heap.collector.alloc_hook(heap)
    if heap.alloc_bump and gcb_likely(wide <= MAX_SMALL_SIZE):
        return heap_alloc_bump(heap, nslots, nbytes)
    if gcb_likely(wide <= MAX_SMALL_SIZE):
        obj = sizeclass_alloc_fast(heap, heap.sizeclass.current, &heap.alloc_count, &heap.alloc_bytes,
                                   nslots, nbytes)
        if gcb_likely(obj != NULL):
            return obj
    if gcb_unlikely(wide > MAX_OBJECT_BYTES):
        return heap_refuse_object(heap, nslots, payload)
    if heap.collector.external_alloc != NULL:
        # a baseline outside the arena (malloc, boehm): straight to its allocator, one
        # call as a C program makes (heap_alloc_slow would make the same call, one deeper)
        obj = heap.collector.external_alloc(heap, nbytes, nslots)
    else:
        obj = heap_alloc_slow(heap, nbytes, nslots)
    if obj == NULL:                  # only outside a run (inside, heap_fail unwinds)
        return NULL
    (<uint64_t*>obj)[0] = <uint64_t>nslots | (<uint64_t>nbytes << 32)   # the header
    return obj


# The allocation fast path of a mutator thread: heap_alloc's, over the thread's own
# allocation cache, counting into the thread (added to the heap at its slow path).
# The collector's trigger is tested on the slow path (a refill), as Go's mallocgc does.
# Under --stress every allocation takes the slow path, so that the plan's stress count
# sees each one (a collection every N allocations, whichever thread makes them).
cdef inline Object* mt_heap_alloc(MutatorThread* m, uint32_t nslots, uint32_t payload) noexcept nogil:
    cdef uint64_t wide = <uint64_t>HEADER_BYTES + (<uint64_t>nslots << 3) + payload
    cdef uint32_t nbytes = <uint32_t>wide
    cdef HeapState* heap = m.heap
    cdef Object* obj
    if gcb_likely(wide <= MAX_SMALL_SIZE and heap.stress_allocs == 0):
        obj = sizeclass_alloc_fast(heap, m.current, &m.alloc_count, &m.alloc_bytes, nslots, nbytes)
        if gcb_likely(obj != NULL):
            return obj
    if gcb_unlikely(wide > MAX_OBJECT_BYTES):
        return heap_refuse_object(heap, nslots, payload)
    obj = mt_alloc_slow(m, nbytes, nslots)
    obj.nslots = nslots
    obj.nbytes = nbytes
    return obj

# Goroutine stack slots scanned by a plan's root scan (parked stacks, and the running
# goroutine's K when the mutator's stack slots are scanned too): the stack-scan work.
cdef inline void goroutine_count_scan(HeapState* heap, bint with_running, bint in_pause) noexcept nogil:
    cdef GoroutineStacks* gs = &heap.goroutines
    cdef int64_t n
    if gs.slots == NULL:
        return
    n = gs.live - (1 if gs.running >= 0 else 0)
    if with_running and gs.running >= 0:
        n += 1
    n *= gs.k
    gcb_fetch_add_i64(&gs.scan_slots, n)
    if in_pause:
        gcb_fetch_add_i64(&gs.scan_pause_slots, n)

cdef class ManagedHeap:
    cdef HeapState* state

cdef int run_kernel(ManagedHeap heap, gcb_fn kernel, void* arg) except -1

# Reset the collector record to a plan that never collects, named `name`; a plan's
# attach() calls this first and then sets the hooks it has.
cdef int collector_init(ManagedHeap heap, str name) except -1
