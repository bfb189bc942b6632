# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""tricolor: concurrent (or incremental) tri-color mark-sweep with a write barrier, Go-shaped.

Colours: white = mark bit clear; grey = mark bit set and the object is on a grey queue
(the shared queue of blocks, or one marker's private stack); black = marked and scanned.
Marking sets the bit with an atomic fetch-or: the thread that set it owns the object and
pushes it (mark_object_atomic), so an object is scanned exactly once.

Phases of a cycle (as Go's mgc.go):
  sweep termination  the alloc hook sees heap in use >= trigger: it first finishes sweeping
                     the last cycle (OUTSIDE any pause): marking needs every span swept.
  mark start (STW)   PAUSE_MARK_START: cycle-start hook (Pool cleanup), barrier on, allocate
                     black on, grey the stack slots (hybrid: the stack is only marked grey and
                     is scanned by the mutator at its first safepoint after the restart, as Go
                     scans a goroutine's stack at its own safepoint), queue the globals and
                     extra roots for the marker (they are barriered, so scanned concurrently).
  concurrent mark    mode=concurrent: a background worker on its own pthread drains the shared
                     grey queue; the mutator shades in its barrier into a private buffer it
                     hands over in blocks, and assists in proportion to what it allocates.
                     mode=incremental: no thread; the mutator scans `quantum` objects every
                     `step_ops` operations (and assists): the run is a function of the seed.
  mark termination   when the worker is idle, the shared queue empty and the mutator holds no
  (STW)              grey object, the mutator's next safepoint takes PAUSE_MARK_TERMINATION:
                     (dijkstra) rescan the stack and drain, barrier and allocate-black off,
                     flip the sweep generation (O(size classes)), set goal and trigger.
  sweep              after the restart: lazily (refill_class sweeps a class's unswept spans on
                     demand) and proportionally in the alloc hook; never inside a pause.

Invariants kept during marking (stack slots have no barrier; globals and heap slots do):
  dijkstra (insertion, shade the new target): the STRONG tri-colour invariant for heap and
      global slots: no black object or scanned global points to a white object.  The stack
      may, so it is rescanned at mark termination.
  yuasa (deletion, shade the overwritten target; snapshot at the beginning): the WEAK
      invariant: every white object pointed to by a black one is reachable from a grey one
      through white objects, since nothing reachable at mark start loses its last path
      unshaded.  Stack scanned once, in the mark-start pause.
  hybrid (Go 1.8+: shade the overwritten target, and the new one while the stack is grey):
      the weak invariant, with the stack scanned once, concurrently, and never rescanned.
  none: no barrier at all: UNSAFE, to show what the barrier prevents (the verifier catches
      the freed reachable object on graph-mutate).
Allocate black: objects born during marking are marked, so spans allocated during marking
hold black objects and survive the following sweep; termination is declared only when no
marker holds private grey work.  collect() and out_of_memory finish the cycle under way,
then run one full cycle with the world stopped (one PAUSE_FULL_GC pause, mark and sweep),
after which the heap in use is exactly the reachable objects.

Pacer: goal = live * (1 + GOGC/100) (heap_set_goal), live = bytes marked by the markers plus
bytes allocated black.  Trigger (Go's): runway = cons * expected scan work, where cons is
the last cycles' allocation per byte of scan work, per CPU second of mutator and of marking,
scaled by (1 - u) / u for a marking share u = `utilization` (Go: 25% of a core); the
trigger goal - runway is bounded to [60%, 95%] of the way from live to goal (Go 1.5-1.17's
lower bound 0.6; 0.7 overran the goal in most steady-state cycles here).  Incremental mode
uses bytes allocated per byte scanned (no clocks), so a run is a function of its seed.
Assists scan (remaining expected scan work / heap left before the goal) per byte allocated,
checked every `assist_kib`; at the goal the mutator drains everything it can reach.
goal_overruns counts cycles in which the heap passed the goal while marking.
Counters: background_mark_ns is the worker's busy wall time, background_cpu_ns its thread
CPU time; assist_ns is all marking on the mutator's thread outside pauses (assists,
incremental steps, finishing a cycle for runtime.GC()); floating_garbage_bytes is the bytes
marked in a cycle that were unreachable at its termination (allocate-black objects that
died, objects that died after being marked), measured exactly by the verifier's trace when
verifying (--verify or checkmark, which run heap_verify with marks after each termination);
without verification it is not measured and stays 0.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t, uintptr_t, INT64_MAX
from gcbench_core.plan import PlanConstraints
from libc.stdlib cimport calloc, malloc, free, abort
from libc.string cimport memcpy
from libc.stdio cimport fprintf, stderr
from gcbench_core.heap cimport (HeapState, ManagedHeap, MarkStack, CycleRecord, Object, Span,
                                gcb_now_ns, gcb_thread_cpu_ns, gcb_ctz64,
                                gcb_load_u64, gcb_fetch_or_u64, gcb_load_ptr, gcb_load_int,
                                gcb_store_int, gcb_load_i64, gcb_store_i64, gcb_unlikely,
                                heap_in_use, heap_mark_roots, heap_drain, heap_flip,
                                heap_sweep_all, heap_sweep_one, heap_set_goal, heap_record_pause,
                                heap_new_cycle, heap_cycle_done, heap_verify, heap_fail, heap_set_allocate_black,
                                mark_stack_push, mark_stack_free, span_of, obj_index, obj_slots,
                                mark_object_atomic,
                                PAUSE_MARK_START, PAUSE_MARK_TERMINATION, PAUSE_FULL_GC,
                                ERR_NONE, ERR_INTERNAL, SPAN_FREE, PAGE_SIZE)

NAME = "tricolor"
DESCRIPTION = ("concurrent tri-color mark-sweep (Go-shaped): background mark worker thread, "
               "mark assists, dijkstra/yuasa/hybrid write barriers, two short pauses per cycle")
OPTIONS = {
    "barrier": {"type": "str", "default": "hybrid", "choices": ("dijkstra", "yuasa", "hybrid", "none"),
                "help": "write barrier: dijkstra (shade new; stack rescan at termination), yuasa "
                        "(shade old; snapshot at the beginning), hybrid (Go 1.8+: shade old, and new "
                        "while the stack is grey), none (UNSAFE: no barrier, to show what it prevents)"},
    "mode": {"type": "str", "default": "concurrent", "choices": ("concurrent", "incremental"),
             "help": "concurrent: a background mark worker thread; incremental: the mutator's own "
                     "thread marks a quantum every step_ops operations (deterministic from the seed)"},
    "quantum": {"type": "int", "default": 256, "min": 1, "max": 1 << 30,
                "help": "incremental mode: objects scanned per marking step"},
    "step_ops": {"type": "int", "default": 1024, "min": 16, "max": 1 << 30,
                 "help": "incremental mode: mutator operations between marking steps"},
    "assist_kib": {"type": "int", "default": 64, "min": 1, "max": 1 << 20,
                   "help": "KiB allocated between mark-assist (and proportional-sweep) checks"},
    "utilization": {"type": "float", "default": 0.25, "min": 0.01, "max": 1.0,
                    "help": "pacer: background marking's target share of one core (Go: 0.25)"},
}
# hybrid (the default) deletes and inserts; its deletion half is the snapshot (SATB)
CONSTRAINTS = PlanConstraints(barrier="satb", concurrent=True)

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    ctypedef struct pthread_attr_t:
        pass
    ctypedef struct pthread_mutexattr_t:
        pass
    ctypedef struct pthread_condattr_t:
        pass
    ctypedef void* (*pthread_start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const pthread_attr_t* attr, pthread_start_fn fn, void* arg)
    int pthread_join(pthread_t thread, void** ret)
    int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* a)
    int pthread_mutex_destroy(pthread_mutex_t* m)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)
    int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* a)
    int pthread_cond_destroy(pthread_cond_t* c)
    int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m)
    int pthread_cond_signal(pthread_cond_t* c)
    int pthread_cond_broadcast(pthread_cond_t* c)

cdef enum:
    BARRIER_NONE = 0
    BARRIER_DIJKSTRA = 1
    BARRIER_YUASA = 2
    BARRIER_HYBRID = 3

cdef enum:
    MODE_CONCURRENT = 0
    MODE_INCREMENTAL = 1

cdef enum:
    PHASE_IDLE = 0          # not marking (the last cycle's spans may still be sweeping)
    PHASE_MARK = 1          # barrier on, marking
    PHASE_TERMINATE = 2     # termination declared: the worker must not take work

cdef enum:
    BLOCK_OBJECTS = 254     # grey objects per hand-over block (a block is 2 KiB)
    DRAIN_CHUNK = 256       # the worker looks up from its private work this often

# Go's trigger bounds: the cycle starts between 70% and 95% of the way from the last
# marked heap to the goal (gcControllerState.trigger).
cdef double TRIGGER_MIN_FRACTION = 0.6
cdef double TRIGGER_MAX_FRACTION = 0.95

ctypedef struct WorkBlock:
    WorkBlock* next
    int64_t n
    Object* items[BLOCK_OBJECTS]

# One marking thread's private state.
ctypedef struct Marker:
    MarkStack grey           # private grey objects (LIFO: depth-first)
    int64_t scanned_bytes    # scan work this cycle: requested bytes of objects scanned
    int64_t marked_bytes     # bytes this marker shaded (size-class bytes; not allocate-black)
    int64_t marked_objects

ctypedef struct TricolorState:
    int barrier
    int mode
    int64_t quantum
    int64_t step_ops
    int64_t poll_bytes
    double utilization

    # --- shared with the worker: `lock` protects every field down to worker_stop ---
    pthread_mutex_t lock
    pthread_cond_t work_cond     # the worker sleeps here when there is nothing to do
    pthread_cond_t idle_cond     # the worker broadcasts here each time it goes idle
    WorkBlock* full              # grey blocks (LIFO)
    WorkBlock* free_blocks
    int64_t nfull                # also read without the lock, as a hint
    int roots_pending            # globals and extra roots not yet claimed by a marker
    int phase                    # also read without the lock (atomically) by the worker
    int worker_idle              # 1: the worker holds no private grey object
    int worker_stop
    int worker_running
    pthread_t worker
    Marker bg                    # the worker's marker
    int64_t bg_scanned_published # bg.scanned_bytes, published for the mutator's pacer

    # --- mutator side ---
    Marker mut
    int stack_grey               # hybrid: the stack is grey (not yet scanned) this cycle
    int cycle_overran
    int sweep_pending
    int finishing
    int64_t sweep_spans_per_poll
    int64_t cycle_index
    int64_t mark_start_ns
    int64_t mark_start_alloc_bytes
    int64_t mark_start_alloc_count
    int64_t mark_start_mut_cpu
    int64_t mark_start_bg_cpu
    int64_t mark_start_assist_ns
    int64_t expected_scan        # scan work expected this cycle (last cycle's)
    int64_t last_assist_alloc
    int64_t stress_count
    double cons                  # pacer: allocation per unit of scan work (see pacer_update)
    int have_cons
    MarkStack full_gc_stack


cdef inline TricolorState* state_of(HeapState* heap) noexcept nogil:
    return <TricolorState*>heap.collector.state


# ---------------------------------------------------------------------------
# Shading and scanning (both threads)

# Grey `obj` if it is white: the first setter of the mark bit pushes it.
cdef inline bint marker_shade(HeapState* heap, Marker* m, Object* obj) noexcept nogil:
    cdef uint32_t size = mark_object_atomic(heap, obj)
    if size == 0:
        return False
    m.marked_bytes += size
    m.marked_objects += 1
    mark_stack_push(&m.grey, obj)
    return True

# Blacken `obj`: shade every slot's target.  Slots are read with acquire loads, since
# the mutator may be storing into them (its barrier has shaded what it needs).
cdef inline int64_t marker_scan(HeapState* heap, Marker* m, Object* obj) noexcept nogil:
    cdef uint32_t i, n = obj.nslots
    cdef Object** slots = obj_slots(obj)
    cdef Object* child
    for i in range(n):
        child = <Object*>gcb_load_ptr(<void**>(slots + i))
        if child != NULL:
            marker_shade(heap, m, child)
    m.scanned_bytes += obj.nbytes
    return obj.nbytes

# Scan private grey objects until empty or a budget (objects, bytes) is spent.
# Returns the objects scanned; adds the bytes scanned to *nbytes.
cdef inline int64_t marker_drain(HeapState* heap, Marker* m, int64_t max_objects, int64_t max_bytes,
                                 int64_t* nbytes) noexcept nogil:
    cdef int64_t objects = 0, scanned = 0
    cdef Object* obj
    while m.grey.length > 0 and objects < max_objects and scanned < max_bytes:
        m.grey.length -= 1
        obj = m.grey.items[m.grey.length]
        scanned += marker_scan(heap, m, obj)
        objects += 1
    nbytes[0] += scanned
    return objects

cdef void scan_stack(HeapState* heap, Marker* m) noexcept nogil:
    cdef int i
    for i in range(heap.nstack):
        if heap.stack[i] != NULL:
            marker_shade(heap, m, heap.stack[i])

cdef void scan_globals(HeapState* heap, Marker* m) noexcept nogil:
    cdef int i
    cdef int64_t j
    cdef Object* v
    for i in range(heap.nglobals):
        v = <Object*>gcb_load_ptr(<void**>&heap.globals[i])
        if v != NULL:
            marker_shade(heap, m, v)
    for i in range(heap.nextra_roots):
        for j in range(heap.extra_roots[i].count):
            v = <Object*>gcb_load_ptr(<void**>&heap.extra_roots[i].slots[j])
            if v != NULL:
                marker_shade(heap, m, v)


# ---------------------------------------------------------------------------
# The shared grey queue: blocks of BLOCK_OBJECTS under one mutex (one lock per block,
# never per object).

cdef WorkBlock* block_new() noexcept nogil:
    cdef WorkBlock* b = <WorkBlock*>malloc(sizeof(WorkBlock))
    if b == NULL:
        fprintf(stderr, b"gcbench: out of memory for a grey block\n")
        abort()
    return b

# Move m's grey objects above `keep` to the shared queue, and wake the worker.
cdef void queue_put(TricolorState* st, Marker* m, int64_t keep) noexcept nogil:
    cdef WorkBlock* b
    cdef int64_t n
    if m.grey.length <= keep:
        return
    pthread_mutex_lock(&st.lock)
    while m.grey.length > keep:
        b = st.free_blocks
        if b != NULL:
            st.free_blocks = b.next
        else:
            b = block_new()
        n = m.grey.length - keep
        if n > BLOCK_OBJECTS:
            n = BLOCK_OBJECTS
        memcpy(b.items, &m.grey.items[m.grey.length - n], n * sizeof(Object*))
        m.grey.length -= n
        b.n = n
        b.next = st.full
        st.full = b
        gcb_store_i64(&st.nfull, st.nfull + 1)
    if st.worker_idle:
        pthread_cond_signal(&st.work_cond)
    pthread_mutex_unlock(&st.lock)

# Take one block from the shared queue into m's private stack; false if none.
cdef bint queue_take(TricolorState* st, Marker* m) noexcept nogil:
    cdef WorkBlock* b
    cdef int64_t i
    if gcb_load_i64(&st.nfull) == 0:
        return False
    pthread_mutex_lock(&st.lock)
    b = st.full
    if b != NULL:
        st.full = b.next
        gcb_store_i64(&st.nfull, st.nfull - 1)
    pthread_mutex_unlock(&st.lock)
    if b == NULL:
        return False
    for i in range(b.n):
        mark_stack_push(&m.grey, b.items[i])
    pthread_mutex_lock(&st.lock)
    b.next = st.free_blocks
    st.free_blocks = b
    pthread_mutex_unlock(&st.lock)
    return True

cdef bint claim_roots(TricolorState* st) noexcept nogil:
    cdef bint mine = False
    if not gcb_load_int(&st.roots_pending):
        return False
    pthread_mutex_lock(&st.lock)
    if st.roots_pending:
        gcb_store_int(&st.roots_pending, 0)
        mine = True
    pthread_mutex_unlock(&st.lock)
    return mine


# ---------------------------------------------------------------------------
# The background mark worker (mode=concurrent)

# Mark until there is no work anywhere (or a stop request); the private stack is empty
# on return, so that the worker holds nothing when it declares itself idle.
cdef void worker_mark(HeapState* heap, TricolorState* st, Marker* m) noexcept nogil:
    cdef int64_t scanned = 0
    while True:
        if claim_roots(st):
            scan_globals(heap, m)
        while m.grey.length > 0:
            marker_drain(heap, m, DRAIN_CHUNK, INT64_MAX, &scanned)
            gcb_store_i64(&st.bg_scanned_published, m.scanned_bytes)
            # keep at most two blocks private and publish the rest (one lock per block), so
            # that an assist can take over when this thread is descheduled
            if m.grey.length > 2 * BLOCK_OBJECTS:
                queue_put(st, m, BLOCK_OBJECTS)
            if gcb_unlikely(gcb_load_int(&st.worker_stop)):
                queue_put(st, m, 0)       # hand back what is left: a later collect() finishes it
                return
        if not queue_take(st, m):
            return

cdef void* worker_main(void* arg) noexcept nogil:
    cdef HeapState* heap = <HeapState*>arg
    cdef TricolorState* st = state_of(heap)
    cdef int64_t t0, c0
    pthread_mutex_lock(&st.lock)
    while True:
        while not st.worker_stop and not (st.phase == PHASE_MARK and (st.full != NULL or st.roots_pending)):
            st.worker_idle = 1
            pthread_cond_broadcast(&st.idle_cond)
            pthread_cond_wait(&st.work_cond, &st.lock)
        if st.worker_stop:
            break
        st.worker_idle = 0
        pthread_mutex_unlock(&st.lock)
        t0 = gcb_now_ns()
        c0 = gcb_thread_cpu_ns()
        worker_mark(heap, st, &st.bg)
        # only this thread writes these; the mutator reads them after seeing the worker
        # idle under the lock
        heap.background_cpu_ns += gcb_thread_cpu_ns() - c0
        heap.background_mark_ns += gcb_now_ns() - t0
        pthread_mutex_lock(&st.lock)
    st.worker_idle = 1
    pthread_cond_broadcast(&st.idle_cond)
    pthread_mutex_unlock(&st.lock)
    return NULL

cdef void start_worker(HeapState* heap, TricolorState* st) noexcept nogil:
    if st.worker_running:
        return
    st.worker_stop = 0
    st.worker_idle = 1
    if pthread_create(&st.worker, NULL, worker_main, heap) != 0:
        heap_fail(heap, ERR_INTERNAL, "tricolor: cannot start the background mark worker thread")
        return
    st.worker_running = 1

cdef void stop_worker(TricolorState* st) noexcept nogil:
    if not st.worker_running:
        return
    pthread_mutex_lock(&st.lock)
    gcb_store_int(&st.worker_stop, 1)         # also read without the lock by the worker
    pthread_cond_broadcast(&st.work_cond)
    pthread_mutex_unlock(&st.lock)
    pthread_join(st.worker, NULL)
    st.worker_running = 0
    gcb_store_int(&st.worker_stop, 0)
    st.worker_idle = 1


# ---------------------------------------------------------------------------
# Mutator-side marking: barrier, assists, incremental steps

cdef inline void shade_from_mutator(HeapState* heap, TricolorState* st, Object* obj) noexcept nogil:
    if obj != NULL and marker_shade(heap, &st.mut, obj):
        heap.barrier_shades += 1
        if st.mode == MODE_CONCURRENT and st.mut.grey.length >= BLOCK_OBJECTS:
            queue_put(st, &st.mut, 0)

# The write barrier's slow path: runs before `*slot = new_value`, only while marking.
cdef void tc_write_barrier(HeapState* heap, Object** slot, Object* new_value) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    heap.barrier_slow_calls += 1
    if st.barrier == BARRIER_DIJKSTRA:
        shade_from_mutator(heap, st, new_value)
    elif st.barrier == BARRIER_YUASA:
        shade_from_mutator(heap, st, slot[0])
    elif st.barrier == BARRIER_HYBRID:
        shade_from_mutator(heap, st, slot[0])
        if st.stack_grey:
            shade_from_mutator(heap, st, new_value)

# Hybrid: the mutator scans its own stack at its first safepoint after mark start.
cdef inline void scan_own_stack_if_grey(HeapState* heap, TricolorState* st) noexcept nogil:
    if st.stack_grey:
        scan_stack(heap, &st.mut)
        st.stack_grey = 0

# Marking on the mutator's thread (assists, incremental steps): up to the budgets.
cdef void mutator_mark(HeapState* heap, TricolorState* st, int64_t max_objects, int64_t max_bytes) noexcept nogil:
    cdef int64_t t0 = gcb_now_ns()
    cdef int64_t objects = 0, nbytes = 0
    cdef Marker* m = &st.mut
    if claim_roots(st):
        scan_globals(heap, m)
    while objects < max_objects and nbytes < max_bytes:
        if m.grey.length == 0 and not queue_take(st, m):
            break
        objects += marker_drain(heap, m, max_objects - objects, max_bytes - nbytes, &nbytes)
    if st.mode == MODE_CONCURRENT and st.worker_running:
        queue_put(st, m, 0)        # what is left goes where the worker can take it
    heap.assist_ns += gcb_now_ns() - t0

# Mark assist: scan work in proportion to the bytes allocated since the last one
# (Go's assistWorkPerByte = scan work remaining / heap remaining before the goal).
cdef void mark_assist(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef int64_t allocated = heap.alloc_bytes - st.last_assist_alloc
    cdef int64_t done = st.mut.scanned_bytes + gcb_load_i64(&st.bg_scanned_published)
    cdef int64_t remaining_work = st.expected_scan - done
    cdef int64_t heap_left = heap.heap_goal - heap_in_use(heap)
    cdef double budget
    st.last_assist_alloc = heap.alloc_bytes
    if remaining_work < st.expected_scan // 10:
        remaining_work = st.expected_scan // 10     # marking ran past its estimate: keep helping
    if heap_left <= st.poll_bytes:
        mutator_mark(heap, st, INT64_MAX, INT64_MAX)   # at the goal: the mutator must not outrun
        return
    budget = <double>allocated * remaining_work / heap_left
    if budget >= 1.0:
        mutator_mark(heap, st, INT64_MAX, <int64_t>budget + 1)


# ---------------------------------------------------------------------------
# Cycle

cdef void finish_sweeping(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef int64_t t0
    if st.sweep_pending:
        t0 = gcb_now_ns()
        heap_sweep_all(heap)
        heap.sweep_ns += gcb_now_ns() - t0
        st.sweep_pending = 0

cdef void reset_marker(Marker* m) noexcept nogil:
    m.scanned_bytes = 0
    m.marked_bytes = 0
    m.marked_objects = 0

cdef void mark_start(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef int64_t t0, t1
    cdef CycleRecord* cycle
    finish_sweeping(heap, st)                 # sweep termination, outside the pause
    if st.mode == MODE_CONCURRENT:
        start_worker(heap, st)
    t0 = gcb_now_ns()
    st.cycle_index = heap.ncycle_log
    cycle = heap_new_cycle(heap)
    cycle.start_ns = t0
    cycle.heap_before = heap_in_use(heap)
    if heap.cycle_start_hook != NULL:
        heap.cycle_start_hook(heap)
    reset_marker(&st.mut)
    heap_set_allocate_black(heap, True)       # (releases the current spans: counts exact)
    st.mark_start_alloc_bytes = heap.alloc_bytes
    st.mark_start_alloc_count = heap.alloc_count
    st.last_assist_alloc = heap.alloc_bytes
    st.cycle_overran = 0
    if not st.have_cons and st.expected_scan == 0:
        st.expected_scan = heap_in_use(heap)
    gcb_store_int(&heap.barrier_on, 1 if st.barrier != BARRIER_NONE else 0)
    if st.barrier == BARRIER_HYBRID:
        st.stack_grey = 1                     # scanned by the mutator at its next safepoint
    else:
        scan_stack(heap, &st.mut)
    pthread_mutex_lock(&st.lock)
    reset_marker(&st.bg)
    st.mark_start_bg_cpu = heap.background_cpu_ns     # the worker is idle: stable
    st.bg_scanned_published = 0
    st.roots_pending = 1
    gcb_store_int(&st.phase, PHASE_MARK)
    pthread_mutex_unlock(&st.lock)
    t1 = gcb_now_ns()
    heap_record_pause(heap, PAUSE_MARK_START, t0, t1)
    # Wake the worker only after the restart (as Go starts its mark workers once the world
    # runs): a wakeup can make the scheduler preempt the waker, which inside the pause
    # would stretch it by a time slice.
    if st.mode == MODE_CONCURRENT:
        pthread_mutex_lock(&st.lock)
        pthread_cond_signal(&st.work_cond)    # the roots are work
        pthread_mutex_unlock(&st.lock)
        queue_put(st, &st.mut, 0)             # the stack's grey objects
    st.mark_start_ns = t0
    st.mark_start_mut_cpu = gcb_thread_cpu_ns()
    st.mark_start_assist_ns = heap.assist_ns

# Bytes of marked objects that the verifier's trace (just run, heap.verify_bits) did not
# reach: floating garbage, exactly.
cdef int64_t unreachable_marked_bytes(HeapState* heap) noexcept nogil:
    cdef uint32_t p = 0, w, nwords
    cdef uint64_t bits, granule
    cdef Span* s
    cdef int64_t total = 0
    cdef char* addr
    while p < heap.high_water_page:
        s = &heap.spans[p]
        if s.state == SPAN_FREE:
            p += s.npages if s.npages > 0 else 1
            continue
        nwords = (s.nelems + 63) >> 6
        for w in range(nwords):
            bits = s.mark_bits[w]
            while bits != 0:
                addr = s.base + <uint64_t>(w * 64 + gcb_ctz64(bits)) * s.elemsize
                bits &= bits - 1
                granule = (<uintptr_t>addr - <uintptr_t>heap.arena) >> 3
                if not ((heap.verify_bits[granule >> 6] >> (granule & 63)) & 1):
                    total += s.elemsize
        p += s.npages
    return total

# Go's trigger: start early enough that, at the target utilization, marking ends at the
# goal.  runway = cons * (1 - u) / u * expected scan work, where cons is the mutator's
# allocation rate over the marker's scan rate (per CPU second) measured last cycle; the
# trigger is bounded to [70%, 95%] of the way from the live heap to the goal.
cdef void pacer_update(HeapState* heap, TricolorState* st, int64_t live, int64_t scan_work, bint forced) noexcept nogil:
    cdef int64_t alloc_during = heap.alloc_bytes - st.mark_start_alloc_bytes
    cdef int64_t assist = heap.assist_ns - st.mark_start_assist_ns
    cdef int64_t mut_cpu, gc_cpu, lo, hi, trigger
    cdef double cons_new = -1.0, runway
    if not forced and scan_work > 0:
        if st.mode == MODE_INCREMENTAL:
            # deterministic: bytes allocated per byte of scan work, at the configured pace
            cons_new = <double>alloc_during / scan_work
        else:
            mut_cpu = gcb_thread_cpu_ns() - st.mark_start_mut_cpu - assist
            gc_cpu = heap.background_cpu_ns - st.mark_start_bg_cpu + assist
            if mut_cpu > 0 and gc_cpu > 0:
                cons_new = (<double>alloc_during / mut_cpu) / (<double>scan_work / gc_cpu)
                cons_new *= (1.0 - st.utilization) / st.utilization
        if cons_new >= 0:
            # smooth over two cycles, so one odd cycle does not swing the trigger
            st.cons = cons_new if not st.have_cons else 0.5 * (st.cons + cons_new)
            st.have_cons = 1
    if scan_work > 0:
        st.expected_scan = scan_work
    if heap.gogc < 0:
        return
    lo = live + <int64_t>((heap.heap_goal - live) * TRIGGER_MIN_FRACTION)
    hi = live + <int64_t>((heap.heap_goal - live) * TRIGGER_MAX_FRACTION)
    if st.have_cons:
        runway = st.cons * st.expected_scan
        trigger = heap.heap_goal - <int64_t>runway if runway < heap.heap_goal else 0
    else:
        trigger = lo
    if trigger < lo:
        trigger = lo
    if trigger > hi:
        trigger = hi
    heap.heap_trigger = trigger

cdef void mark_termination(HeapState* heap, TricolorState* st, bint forced) noexcept nogil:
    cdef int64_t t0, t1, v0, marked_bytes, marked_objects, black_bytes, black_objects, live
    cdef int64_t scan_work, heap_after, pages, room, drained = 0
    cdef CycleRecord* cycle
    cdef Marker* m = &st.mut
    t0 = gcb_now_ns()
    # The world is stopped (we are the mutator, the worker is idle and will not take work).
    if st.barrier == BARRIER_DIJKSTRA:
        scan_stack(heap, m)                   # stack slots had no barrier: rescan
    scan_own_stack_if_grey(heap, st)
    if claim_roots(st):
        scan_globals(heap, m)
    while True:
        marker_drain(heap, m, INT64_MAX, INT64_MAX, &drained)
        if not queue_take(st, m):
            break
    gcb_store_int(&heap.barrier_on, 0)
    heap_set_allocate_black(heap, False)
    scan_work = st.mut.scanned_bytes + st.bg.scanned_bytes
    marked_bytes = st.mut.marked_bytes + st.bg.marked_bytes
    marked_objects = st.mut.marked_objects + st.bg.marked_objects
    black_bytes = heap.alloc_bytes - st.mark_start_alloc_bytes
    black_objects = heap.alloc_count - st.mark_start_alloc_count
    # The goal follows Go's heapMarked: the bytes found reachable by marking.  Objects
    # allocated black during the cycle survive it, but most are young garbage (on
    # binary-trees, counting them doubled the goal past the heap and turned every other
    # cycle into an out-of-memory full collection); they are counted in heap_after.
    live = marked_bytes
    heap.marked_objects_total += marked_objects
    heap_after = heap_in_use(heap)
    pages = heap.pages_in_use
    heap_flip(heap)
    heap_set_goal(heap, live)
    pacer_update(heap, st, live, scan_work, forced)
    cycle = &heap.cycle_log[st.cycle_index]
    cycle.heap_after = heap_after
    cycle.live_bytes = live
    cycle.live_objects = marked_objects
    cycle.goal_bytes = heap.heap_goal if heap.gogc >= 0 else -1
    cycle.mark_ns = t0 - st.mark_start_ns
    cycle.sweep_ns = 0
    cycle.forced = forced
    pthread_mutex_lock(&st.lock)
    gcb_store_int(&st.phase, PHASE_IDLE)
    pthread_mutex_unlock(&st.lock)
    # proportional sweep: spread the spans to sweep over the allocation before the trigger
    st.sweep_pending = 1
    room = heap.heap_trigger - heap_in_use(heap) if heap.gogc >= 0 else 16 * st.poll_bytes
    if room < st.poll_bytes:
        room = st.poll_bytes
    st.sweep_spans_per_poll = 1 + pages * st.poll_bytes // room
    t1 = gcb_now_ns()
    heap_record_pause(heap, PAUSE_MARK_TERMINATION, t0, t1)
    cycle.end_ns = t1
    if heap.verify or heap.checkmark:
        # after the pause's end timestamp: verification is not pause time.  The mark bits
        # are intact (nothing is swept yet): every reachable object must be marked.
        v0 = gcb_now_ns()
        heap_verify(heap, True)
        heap.floating_garbage_bytes += unreachable_marked_bytes(heap)
        heap.verify_ns += gcb_now_ns() - v0
    heap_cycle_done(heap, cycle)

# Complete the cycle under way on the mutator's thread, helping the worker (runtime.GC()
# and out of memory do this before their full collection; so does the end of a run).
cdef void finish_marking(HeapState* heap, TricolorState* st, bint forced) noexcept nogil:
    cdef bint done = False
    scan_own_stack_if_grey(heap, st)
    while not done:
        mutator_mark(heap, st, INT64_MAX, INT64_MAX)
        pthread_mutex_lock(&st.lock)
        if st.full == NULL and not st.roots_pending and st.worker_idle and st.mut.grey.length == 0:
            st.phase = PHASE_TERMINATE
            done = True
        elif st.full == NULL and not st.worker_idle:
            pthread_cond_wait(&st.idle_cond, &st.lock)
        pthread_mutex_unlock(&st.lock)
    mark_termination(heap, st, forced)

# At a safepoint during marking: declare termination if nobody has grey work left.
cdef bint try_terminate(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef bint done
    scan_own_stack_if_grey(heap, st)
    if st.mut.grey.length > 0:
        if st.mode == MODE_CONCURRENT and st.worker_running:
            queue_put(st, &st.mut, 0)
        return False
    if st.mode == MODE_CONCURRENT and not st.worker_running:
        mutator_mark(heap, st, INT64_MAX, INT64_MAX)   # no worker (it was stopped): finish alone
    pthread_mutex_lock(&st.lock)
    done = st.full == NULL and not st.roots_pending and st.worker_idle
    if done:
        gcb_store_int(&st.phase, PHASE_TERMINATE)
    pthread_mutex_unlock(&st.lock)
    if done:
        mark_termination(heap, st, False)
    return done

# A full collection with the world stopped: finish the cycle under way, then mark from
# every root and sweep everything in one PAUSE_FULL_GC pause.
cdef void full_collection(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef int64_t t0, t_mark, t1, live, objects
    cdef CycleRecord* cycle
    if st.phase == PHASE_MARK:
        finish_marking(heap, st, True)
    finish_sweeping(heap, st)
    t0 = gcb_now_ns()
    cycle = heap_new_cycle(heap)
    cycle.start_ns = t0
    cycle.heap_before = heap_in_use(heap)
    if heap.cycle_start_hook != NULL:
        heap.cycle_start_hook(heap)
    heap_mark_roots(heap, &st.full_gc_stack, True)
    heap.marked_objects_total += heap_drain(heap, &st.full_gc_stack)
    t_mark = gcb_now_ns()
    heap_flip(heap)
    heap_sweep_all(heap)
    live = heap_in_use(heap)
    heap_set_goal(heap, live)
    pacer_update(heap, st, live, 0, True)
    t1 = gcb_now_ns()
    heap_record_pause(heap, PAUSE_FULL_GC, t0, t1)
    cycle.end_ns = t1
    cycle.heap_after = live
    cycle.live_bytes = live
    cycle.live_objects = heap.alloc_count - heap.freed_count
    cycle.goal_bytes = heap.heap_goal if heap.gogc >= 0 else -1
    cycle.mark_ns = t_mark - t0
    cycle.sweep_ns = t1 - t_mark
    cycle.forced = 1
    heap_cycle_done(heap, cycle)
    schedule_poll(heap, st)


# ---------------------------------------------------------------------------
# Hooks

cdef void schedule_poll(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef int64_t room
    if st.phase == PHASE_MARK:
        heap.next_poll_bytes = heap.alloc_bytes + (0 if heap.stress_allocs > 0 else st.poll_bytes)
        return
    if heap.stress_allocs > 0:
        heap.next_poll_bytes = heap.alloc_bytes
        return
    if heap.gogc < 0:
        room = INT64_MAX - heap.alloc_bytes
    else:
        room = heap.heap_trigger - heap_in_use(heap)
        if room < 0:
            room = 0
    if st.sweep_pending and room > st.poll_bytes:
        room = st.poll_bytes
    heap.next_poll_bytes = heap.alloc_bytes + room

cdef void tc_alloc_hook(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef int64_t t0, k
    cdef bint start
    if st.phase == PHASE_MARK:
        if not st.cycle_overran and heap_in_use(heap) > heap.heap_goal:
            st.cycle_overran = 1
            heap.goal_overruns += 1
        scan_own_stack_if_grey(heap, st)
        mark_assist(heap, st)
        try_terminate(heap, st)
        schedule_poll(heap, st)
        return
    if st.sweep_pending:
        t0 = gcb_now_ns()
        for k in range(st.sweep_spans_per_poll):
            if not heap_sweep_one(heap):
                st.sweep_pending = 0
                break
        heap.sweep_ns += gcb_now_ns() - t0
    if heap.stress_allocs > 0:
        st.stress_count += 1
        start = st.stress_count >= heap.stress_allocs
        if start:
            st.stress_count = 0
    else:
        start = heap.gogc >= 0 and heap_in_use(heap) >= heap.heap_trigger
    if start:
        mark_start(heap, st)
    schedule_poll(heap, st)

cdef void tc_poll_hook(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    if st.phase != PHASE_MARK:
        return
    scan_own_stack_if_grey(heap, st)
    if st.mode == MODE_INCREMENTAL:
        mutator_mark(heap, st, st.quantum, INT64_MAX)
    try_terminate(heap, st)
    schedule_poll(heap, st)

cdef void tc_collect(HeapState* heap) noexcept nogil:
    full_collection(heap)

cdef void tc_finish(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    if st == NULL:
        return
    if heap.error_code == ERR_NONE and st.phase == PHASE_MARK and not st.finishing:
        # end of run: complete the cycle under way, so every cycle has both its pauses
        st.finishing = 1
        finish_marking(heap, st, False)
    stop_worker(st)
    st.finishing = 0

cdef void tc_destroy(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef WorkBlock* b
    if st == NULL:
        return
    stop_worker(st)
    while st.full != NULL:
        b = st.full
        st.full = b.next
        free(b)
    while st.free_blocks != NULL:
        b = st.free_blocks
        st.free_blocks = b.next
        free(b)
    mark_stack_free(&st.mut.grey)
    mark_stack_free(&st.bg.grey)
    mark_stack_free(&st.full_gc_stack)
    pthread_mutex_destroy(&st.lock)
    pthread_cond_destroy(&st.work_cond)
    pthread_cond_destroy(&st.idle_cond)
    free(st)
    heap.collector.state = NULL


def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    cdef TricolorState* st = <TricolorState*>calloc(1, sizeof(TricolorState))
    if st == NULL:
        raise MemoryError()
    st.barrier = {"none": BARRIER_NONE, "dijkstra": BARRIER_DIJKSTRA, "yuasa": BARRIER_YUASA,
                  "hybrid": BARRIER_HYBRID}[opts.get("barrier", "hybrid")]
    st.mode = MODE_INCREMENTAL if opts.get("mode", "concurrent") == "incremental" else MODE_CONCURRENT
    st.quantum = opts.get("quantum", 256)
    st.step_ops = opts.get("step_ops", 1024)
    st.poll_bytes = <int64_t>opts.get("assist_kib", 64) * 1024
    st.utilization = opts.get("utilization", 0.25)
    st.worker_idle = 1
    st.phase = PHASE_IDLE
    pthread_mutex_init(&st.lock, NULL)
    pthread_cond_init(&st.work_cond, NULL)
    pthread_cond_init(&st.idle_cond, NULL)
    h.collector.state = st
    h.collector.name = b"tricolor"
    h.collector.alloc_hook = tc_alloc_hook
    h.collector.poll_hook = tc_poll_hook
    h.collector.out_of_memory = tc_collect
    h.collector.collect = tc_collect
    h.collector.write_barrier = tc_write_barrier
    h.collector.finish = tc_finish
    h.collector.destroy = tc_destroy
    if st.mode == MODE_INCREMENTAL:
        h.poll_interval_ops = st.step_ops
        h.next_poll_ops = h.mutator_ops + st.step_ops
    # before any cycle: no live heap measured yet; start at the lower trigger bound
    if h.gogc >= 0:
        h.heap_trigger = <int64_t>(h.heap_goal * TRIGGER_MIN_FRACTION)
    schedule_poll(h, st)
