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
                     markers=N: N background workers, each with a private grey stack, that
                     publish blocks to the shared queue (more than two blocks private, or
                     half when the queue is empty: Go's gcWork.balance) and take from it.
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

Pacer (the heap's pacer room, pacer.pyx, with its TRIGGER_RUNWAY model): goal = live *
(1 + GOGC/100), live = bytes marked by the markers.  Trigger (Go's): runway = cons *
expected scan work, where cons is the last cycles' allocation per byte of scan work, per
CPU second of mutator and of marking, scaled by (1 - u) / u for a marking share u =
`utilization` (Go: 25% of a core); the trigger goal - runway is bounded to [60%, 95%] of
the way from live to goal.  Incremental mode uses bytes allocated per byte scanned (no
clocks), so a run is a function of its seed.  Assists scan (remaining expected scan work /
heap left before the goal) per byte allocated, checked every `assist_kib`; at the goal the
mutator drains everything it can reach.  The cycle's bookkeeping (record, pauses, hooks,
goal, verification) is the heap's cycle room (gcbench_core/cycle); full collections are its
heap_collect_stw.
goal_overruns counts cycles in which the heap passed the goal while marking.

Mutator threads (mt-gcbench threads=N): every call into this plan from a thread holds the
heap lock (heap.pyx), so the hooks' marker (`mut`) and the cycle state are serialised;
each pause stops the other threads with the heap's handshake (heap_stop_world: timed from
the request, time to safepoint recorded).  Each thread has its own grey buffer for its
write barrier (ThreadMark in MutatorThread.gc_local), handed to the shared queue a block
at a time, and, with the hybrid barrier, its own "stack is grey" flag: mark start greys
every thread's stack, and each thread scans its own at its next safepoint (Go scans each
goroutine's stack at its own safepoint).  Mark termination, in its pause, scans any stack
still grey (every stack under dijkstra), takes every thread's buffered grey objects and
drains.  A thread that leaves hands its buffer to the shared queue.
Counters: background_mark_ns is the workers' busy wall time, background_cpu_ns their thread
CPU time (both summed over the workers); assist_ns is all marking on the mutator's thread
outside pauses (assists, incremental steps, finishing a cycle for runtime.GC());
floating_garbage_bytes is the bytes marked in a cycle that were unreachable at its
termination (allocate-black objects that died, objects that died after being marked),
measured exactly by the verifier's trace when
verifying (--verify or checkmark, which run heap_verify with marks after each termination);
without verification it is not measured and stays 0.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t, uintptr_t, INT64_MAX
from gcbench_core.pthread cimport (pthread_t, pthread_mutex_t, pthread_cond_t, pthread_create,
                                   pthread_join, pthread_mutex_init, pthread_mutex_destroy,
                                   pthread_mutex_lock, pthread_mutex_unlock, pthread_cond_init,
                                   pthread_cond_destroy, pthread_cond_wait, pthread_cond_signal,
                                   pthread_cond_broadcast)
from gcbench_core.plan import PlanConstraints
from libc.stdlib cimport calloc, malloc, free, abort
from libc.string cimport memcpy
from libc.stdio cimport fprintf, stderr
from posix.unistd cimport usleep
from gcbench_core.heap cimport (HeapState, ManagedHeap, MarkStack, Object, collector_init,
                                MutatorThread, heap_stop_world, heap_start_world, heap_current_thread,
                                MAX_STACK_SLOTS,
                                gcb_now_ns, gcb_thread_cpu_ns,
                                gcb_load_ptr, gcb_store_ptr, gcb_load_int,
                                gcb_store_int, gcb_load_i64, gcb_store_i64, gcb_unlikely, gcb_fetch_add_i64,
                                heap_in_use, heap_flip, heap_sweep_all, heap_sweep_one,
                                heap_fail, heap_set_allocate_black,
                                mark_stack_push, mark_stack_free, obj_slots, mark_object_atomic,
                                PAUSE_MARK_START, PAUSE_MARK_TERMINATION, PAUSE_FULL_GC,
                                ERR_NONE, ERR_INTERNAL)
from gcbench_core.cycle cimport CycleResult, cycle_begin, cycle_pause, cycle_end, heap_collect_stw
from gcbench_core.pacer cimport (pacer_use_runway, pacer_mark_start, pacer_next_poll_bytes,
                                 pacer_assist_work, pacer_sweep_spans_per_poll, pacer_should_start,
                                 pacer_limiter_update)
from gcbench_core.cycle cimport cycle_note_marking, cycle_note_termination
from gcbench_core.parmark cimport ParMark, MAX_MARKERS, parmark_new, parmark_free, parmark_stop_threads
from gcbench_core.heap cimport PAGE_SIZE, GoroutineStacks, goroutine_count_scan, gcb_fetch_add_i64
from gcbench_core.goroutines cimport goroutine_claim, goroutine_release, goroutines_pending

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
                    "help": "pacer: background marking's goal utilization in the trigger's runway "
                            "(Go's gcGoalUtilization: 0.25)"},
    "markers": {"type": "int", "default": 1, "min": 1, "max": MAX_MARKERS,
                "help": "mode=concurrent: background mark worker threads, with work stealing "
                        "through the shared grey queue (Go's dedicated/fractional split from "
                        "--procs stays; the extra workers are parallel mark workers); a full "
                        "collection (runtime.GC()) marks with this many threads in its pause"},
    "limiter": {"type": "str", "default": "on", "choices": ("on", "off"),
                "help": "Go's GC CPU limiter: while GC work on the mutator's P passes about 50% "
                        "(a leaky bucket), assists stop and the heap may pass its goal; off: never "
                        "(mode=incremental runs without it: it reads clocks)"},
}
# hybrid (the default) deletes and inserts; its deletion half is the snapshot (SATB)
CONSTRAINTS = PlanConstraints(barrier="satb", concurrent=True, multi_mutator=True)


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
    WORKER_STOP_YIELD_US = 50   # a worker's sleep when it sees a stop of the world requested
    BALANCE_MIN = 16        # the worker shares half its grey objects when it holds this many
                            # and the shared queue is empty

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
    char pad[64]             # two workers' markers never share a cache line

ctypedef struct WorkerArg:
    HeapState* heap
    int index

ctypedef struct TricolorState:
    int barrier
    int mode
    int64_t quantum
    int64_t step_ops
    int64_t poll_bytes

    # --- shared with the worker: `lock` protects every field down to worker_stop ---
    pthread_mutex_t lock
    pthread_cond_t work_cond     # the worker sleeps here when there is nothing to do
    pthread_cond_t idle_cond     # the worker broadcasts here each time it goes idle
    WorkBlock* full              # grey blocks (LIFO)
    WorkBlock* free_blocks
    int64_t nfull                # also read without the lock, as a hint
    int roots_pending            # globals and extra roots not yet claimed by a marker
    int phase                    # also read without the lock (atomically) by the worker
    int worker_idle              # 1: no worker holds a private grey object (workers_busy == 0)
    int workers_busy             # workers marking (markers=N: up to nworkers)
    int worker_stop
    int worker_running
    int nworkers                 # markers
    pthread_t workers[MAX_MARKERS]
    WorkerArg worker_args[MAX_MARKERS]
    Marker bg[MAX_MARKERS]       # the workers' markers
    int64_t bg_scanned_published # the workers' scanned bytes, published for the mutator's pacer
    int64_t mark_start_bg_cpu    # background_cpu_ns at mark start

    # --- mutator side ---
    Marker mut
    int stack_grey               # hybrid: the stack is grey (not yet scanned) this cycle
    int sweep_pending
    int finishing
    int64_t sweep_spans_per_poll
    int64_t mark_start_ns
    int64_t mark_start_alloc       # alloc_bytes at mark start: later objects are allocated black
    int64_t last_assist_alloc
    int64_t stress_count


cdef inline TricolorState* state_of(HeapState* heap) noexcept nogil:
    return <TricolorState*>heap.collector.state

# A mutator thread's part (MutatorThread.gc_local): its barrier's grey buffer and counts,
# written by the thread, read by a pause (world stopped) and when it leaves.
ctypedef struct ThreadMark:
    Marker grey              # objects its barrier shaded, not yet handed over
    int stack_grey           # hybrid: its stack is grey (not yet scanned) this cycle
    int64_t buffered         # atomic: objects in `grey` (read by try_terminate)
    int64_t barrier_calls
    int64_t barrier_shades

# Made by its own thread at its first barrier (no lock), published with a release store:
# threads_hold_grey reads it from another thread (acquire).
cdef inline ThreadMark* thread_mark(MutatorThread* t) noexcept nogil:
    cdef void* tm = gcb_load_ptr(&t.gc_local)
    if tm == NULL:
        tm = calloc(1, sizeof(ThreadMark))
        if tm == NULL:
            fprintf(stderr, b"gcbench: out of memory for a thread's grey buffer\n")
            abort()
        gcb_store_ptr(&t.gc_local, tm)
    return <ThreadMark*>tm


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
# Returns the objects scanned; adds the bytes scanned to *nbytes.  No prefetch FIFO here,
# unlike the stop-the-world drains (heap_drain, parmark: PREFETCH_DEFAULT, marksweep's
# `prefetch` option).  Go 1.19 prefetches an object only as greyobject queues it and as
# scanobject starts on it, with no look-ahead queue, and the concurrent mark's length
# decides how much is allocated black during it, which Go counts as marked and so puts in
# the next goal.  A 16- or 32-object FIFO here made marking up to twice as fast and moved
# tricolor's cycle count away from Go's (benchmarks/fidelity.py --shape gcbench: 1.39x
# Go's cycles at 32; binary-trees 42 -> 57 cycles at 16); Go's greyobject prefetch alone
# made it no faster.  The figures, and why the stop-the-world default stays shallow, are in
# the README ("Parallel marking").
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

cdef void scan_stack(HeapState* heap, Marker* m, bint in_pause) noexcept nogil:
    cdef int i
    for i in range(heap.roots.nstack):
        if heap.roots.stack[i] != NULL:
            marker_shade(heap, m, heap.roots.stack[i])
    if heap.goroutines.running >= 0:          # the running goroutine's frame is in there
        gcb_fetch_add_i64(&heap.goroutines.scan_slots, heap.goroutines.k)
        if in_pause:
            gcb_fetch_add_i64(&heap.goroutines.scan_pause_slots, heap.goroutines.k)

cdef void scan_thread_stack(HeapState* heap, Marker* m, MutatorThread* t) noexcept nogil:
    cdef int i
    for i in range(MAX_STACK_SLOTS):
        if t.stack[i] != NULL:
            marker_shade(heap, m, t.stack[i])

cdef void scan_globals(HeapState* heap, Marker* m) noexcept nogil:
    cdef int i
    cdef int64_t j
    cdef Object* v
    for i in range(heap.roots.nglobals):
        v = <Object*>gcb_load_ptr(<void**>&heap.roots.globals[i])
        if v != NULL:
            marker_shade(heap, m, v)
    for i in range(heap.roots.nextra_roots):
        if heap.roots.extra_roots[i].slots == heap.goroutines.slots:
            continue                          # parked goroutine stacks: scan_parked_goroutines
        for j in range(heap.roots.extra_roots[i].count):
            v = <Object*>gcb_load_ptr(<void**>&heap.roots.extra_roots[i].slots[j])
            if v != NULL:
                marker_shade(heap, m, v)

# Parked goroutine stacks (goroutines.pyx, whose invariant this keeps): claim the next
# unclaimed goroutine below cursor_end, shade its K slots, release it; until none is left.
# Any marker may run this, concurrently with the mutator's park and resume.
cdef bint scan_parked_goroutines(HeapState* heap, Marker* m, int64_t max_goroutines) noexcept nogil:
    cdef GoroutineStacks* gs = &heap.goroutines
    cdef int64_t g
    cdef Object** slots
    cdef Object* v
    cdef int i
    cdef bint any = False
    cdef int64_t taken = 0
    while goroutines_pending(gs) and taken < max_goroutines:
        taken += 1
        g = gcb_fetch_add_i64(&gs.cursor, 1)
        if g >= gs.cursor_end:
            break
        any = True
        if goroutine_claim(gs, g):
            slots = gs.slots + g * gs.k
            for i in range(gs.k):
                v = slots[i]
                if v != NULL:
                    marker_shade(heap, m, v)
            m.scanned_bytes += 8 * gs.k
            goroutine_release(gs, g, False)
    return any


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
    if st.workers_busy < st.nworkers:
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
    cdef int64_t published = m.scanned_bytes
    while True:
        if claim_roots(st):
            scan_globals(heap, m)
        scan_parked_goroutines(heap, m, INT64_MAX)
        while m.grey.length > 0:
            marker_drain(heap, m, DRAIN_CHUNK, INT64_MAX, &scanned)
            gcb_fetch_add_i64(&st.bg_scanned_published, m.scanned_bytes - published)
            published = m.scanned_bytes
            # keep at most two blocks private and publish the rest (one lock per block), so
            # that an assist can take over when this thread is descheduled; when the shared
            # queue is empty, publish half (Go's gcWork.balance), so that assists find work
            if m.grey.length > 2 * BLOCK_OBJECTS:
                queue_put(st, m, BLOCK_OBJECTS)
            elif m.grey.length >= BALANCE_MIN and gcb_load_i64(&st.nfull) == 0:
                queue_put(st, m, m.grey.length // 2)
            if gcb_unlikely(gcb_load_int(&st.worker_stop)):
                queue_put(st, m, 0)       # hand back what is left: a later collect() finishes it
                return
            if gcb_unlikely(gcb_load_int(&heap.mt.stop_requested)):
                # a mutator thread is stopping the world: give up the CPU for a moment, so
                # that a thread descheduled for this one reaches its safepoint now rather
                # than at its next time slice (Go's workers run on Ps, and a stop takes the
                # Ps; here they are OS threads beside the mutators: on 2 cores, 2 mutators
                # and a worker, the time to safepoint was a scheduler slice, up to 25 ms)
                usleep(WORKER_STOP_YIELD_US)
        if not queue_take(st, m):
            return

cdef void* worker_main(void* arg) noexcept nogil:
    cdef WorkerArg* a = <WorkerArg*>arg
    cdef HeapState* heap = a.heap
    cdef TricolorState* st = state_of(heap)
    cdef Marker* m = &st.bg[a.index]
    cdef int64_t t0, c0
    cdef bint busy = False
    pthread_mutex_lock(&st.lock)
    while True:
        while not st.worker_stop and not (st.phase == PHASE_MARK and (st.full != NULL or st.roots_pending
                                                                     or goroutines_pending(&heap.goroutines))):
            if busy:
                busy = False
                st.workers_busy -= 1
            st.worker_idle = st.workers_busy == 0
            pthread_cond_broadcast(&st.idle_cond)
            pthread_cond_wait(&st.work_cond, &st.lock)
        if st.worker_stop:
            break
        if not busy:
            busy = True
            st.workers_busy += 1
        st.worker_idle = 0
        pthread_mutex_unlock(&st.lock)
        t0 = gcb_now_ns()
        c0 = gcb_thread_cpu_ns()
        worker_mark(heap, st, m)
        # the workers add these (atomically: there may be several); the mutator reads them
        # after seeing every worker idle under the lock
        gcb_fetch_add_i64(&heap.background_cpu_ns, gcb_thread_cpu_ns() - c0)
        gcb_fetch_add_i64(&heap.background_mark_ns, gcb_now_ns() - t0)
        pthread_mutex_lock(&st.lock)
    if busy:
        st.workers_busy -= 1
    st.worker_idle = st.workers_busy == 0
    pthread_cond_broadcast(&st.idle_cond)
    pthread_mutex_unlock(&st.lock)
    return NULL

cdef void start_worker(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef int i
    if st.worker_running:
        return
    st.worker_stop = 0
    st.worker_idle = 1
    st.workers_busy = 0
    for i in range(st.nworkers):
        st.worker_args[i].heap = heap
        st.worker_args[i].index = i
        if pthread_create(&st.workers[i], NULL, worker_main, &st.worker_args[i]) != 0:
            st.nworkers = i              # join the ones that started
            st.worker_running = i > 0
            stop_worker(st)
            heap_fail(heap, ERR_INTERNAL, "tricolor: cannot start a background mark worker thread")
            return
    st.worker_running = 1

cdef void stop_worker(TricolorState* st) noexcept nogil:
    cdef int i
    if not st.worker_running:
        return
    pthread_mutex_lock(&st.lock)
    gcb_store_int(&st.worker_stop, 1)         # also read without the lock by the worker
    pthread_cond_broadcast(&st.work_cond)
    pthread_mutex_unlock(&st.lock)
    for i in range(st.nworkers):
        pthread_join(st.workers[i], NULL)
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
        shade_from_mutator(heap, st, <Object*>gcb_load_ptr(<void**>slot))
    elif st.barrier == BARRIER_HYBRID:
        shade_from_mutator(heap, st, <Object*>gcb_load_ptr(<void**>slot))
        if st.stack_grey:
            shade_from_mutator(heap, st, new_value)

# The barrier's slow path on a mutator thread: as above, into the thread's own buffer,
# which goes to the shared queue a block at a time.  The old value is read atomically:
# another mutator may store to the same slot at the same moment (unsynchronised stores, as
# in a racy Go program).  If that store lands between this read and this store, its value
# is overwritten unshaded; it was not in the slot when marking began, so the snapshot
# (Yuasa, hybrid) does not need it, and Dijkstra shades every value as it is stored.
cdef void tc_thread_write_barrier(HeapState* heap, MutatorThread* t, Object** slot, Object* new_value) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef ThreadMark* tm = thread_mark(t)
    tm.barrier_calls += 1
    if st.barrier == BARRIER_DIJKSTRA:
        thread_shade(heap, st, tm, new_value)
    elif st.barrier == BARRIER_YUASA:
        thread_shade(heap, st, tm, <Object*>gcb_load_ptr(<void**>slot))
    elif st.barrier == BARRIER_HYBRID:
        thread_shade(heap, st, tm, <Object*>gcb_load_ptr(<void**>slot))
        if tm.stack_grey:
            thread_shade(heap, st, tm, new_value)

cdef inline void thread_shade(HeapState* heap, TricolorState* st, ThreadMark* tm, Object* obj) noexcept nogil:
    if obj != NULL and marker_shade(heap, &tm.grey, obj):
        tm.barrier_shades += 1
        if tm.grey.grey.length >= BLOCK_OBJECTS:
            queue_put(st, &tm.grey, 0)
        gcb_store_i64(&tm.buffered, tm.grey.grey.length)

# At the thread's own safepoint while marking (heap lock held): its buffer goes to the
# shared queue, so that marking, not the termination pause, blackens what it shaded.
cdef void flush_own_buffer(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef MutatorThread* t
    cdef ThreadMark* tm
    if heap.mt.count == 0:
        return
    t = heap_current_thread()
    if t == NULL or t.gc_local == NULL:
        return
    tm = <ThreadMark*>t.gc_local
    if tm.grey.grey.length > 0:
        queue_put(st, &tm.grey, 0)
        gcb_store_i64(&tm.buffered, 0)

# A thread's buffer and counts into the cycle's (world stopped, or the thread leaving).
cdef void take_thread_mark(HeapState* heap, TricolorState* st, ThreadMark* tm) noexcept nogil:
    cdef Marker* m = &st.mut
    while tm.grey.grey.length > 0:
        tm.grey.grey.length -= 1
        mark_stack_push(&m.grey, tm.grey.grey.items[tm.grey.grey.length])
    m.marked_bytes += tm.grey.marked_bytes
    m.marked_objects += tm.grey.marked_objects
    m.scanned_bytes += tm.grey.scanned_bytes
    reset_marker(&tm.grey)
    gcb_store_i64(&tm.buffered, 0)
    heap.barrier_slow_calls += tm.barrier_calls
    heap.barrier_shades += tm.barrier_shades
    tm.barrier_calls = 0
    tm.barrier_shades = 0

# A thread leaves the heap (heap lock held, no stop in effect): its buffer goes to the
# cycle (the shared queue while marking), its counts to the heap's.
cdef void tc_thread_exit(HeapState* heap, MutatorThread* t) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef ThreadMark* tm = <ThreadMark*>t.gc_local
    if tm == NULL:
        return
    take_thread_mark(heap, st, tm)
    if st.mode == MODE_CONCURRENT and st.worker_running:
        queue_put(st, &st.mut, 0)
    mark_stack_free(&tm.grey.grey)
    free(tm)
    t.gc_local = NULL

# Hybrid: the mutator scans its own stack at its first safepoint after mark start (on a
# mutator thread: that thread's stack, into the hooks' marker; the heap lock is held).
cdef inline void scan_own_stack_if_grey(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef MutatorThread* t
    cdef ThreadMark* tm
    if heap.mt.count > 0:
        t = heap_current_thread()
        if t != NULL:
            tm = thread_mark(t)
            if tm.stack_grey:
                scan_thread_stack(heap, &st.mut, t)
                tm.stack_grey = 0
            return
    if st.stack_grey:
        scan_stack(heap, &st.mut, st.phase == PHASE_TERMINATE)
        st.stack_grey = 0

# Marking on the mutator's thread (assists, incremental steps): up to the budgets.
cdef void mutator_mark(HeapState* heap, TricolorState* st, int64_t max_objects, int64_t max_bytes) noexcept nogil:
    cdef int64_t t0 = gcb_now_ns()
    cdef int64_t objects = 0, nbytes = 0
    cdef Marker* m = &st.mut
    if claim_roots(st):
        scan_globals(heap, m)
    if st.mode == MODE_INCREMENTAL:
        scan_parked_goroutines(heap, m, max_objects)
    elif not st.worker_running or max_bytes == INT64_MAX:
        scan_parked_goroutines(heap, m, INT64_MAX)    # else the worker's (assists mark objects)
    while objects < max_objects and nbytes < max_bytes:
        if m.grey.length == 0 and not queue_take(st, m):
            break
        objects += marker_drain(heap, m, max_objects - objects, max_bytes - nbytes, &nbytes)
    if st.mode == MODE_CONCURRENT and st.worker_running:
        queue_put(st, m, 0)        # what is left goes where the worker can take it
    heap.assist_ns += gcb_now_ns() - t0

# Mark assist: scan work in proportion to the bytes allocated since the last one
# (Go's assistWorkPerByte = scan work remaining / heap remaining before the goal).  At the
# goal the mutator does not allocate on: it marks what it can and waits for the worker
# until the cycle ends (Go parks an assist that finds no work until credit comes).
# Returns whether the cycle ended.
cdef bint mark_assist(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef int64_t t0, assist0, stw0, verify0
    cdef int64_t allocated = heap.alloc_bytes - st.last_assist_alloc
    cdef int64_t done = st.mut.scanned_bytes + gcb_load_i64(&st.bg_scanned_published)
    cdef double budget = pacer_assist_work(&heap.pacer, allocated, done, heap.alloc_bytes, st.poll_bytes)
    st.last_assist_alloc = heap.alloc_bytes
    if budget < 0:
        if heap.mt.count > 0 and threads_hold_grey(heap):
            # another mutator thread's stack is still grey (hybrid) or its buffer holds grey
            # objects: it is asked to poll, and scans and hands them over at its next
            # operation.  Finishing now would leave that work (with threads, most of the
            # heap can hang from their stacks) to the termination pause: mark what there is
            # and finish at a later poll (the heap may pass its goal meanwhile: counted)
            mutator_mark(heap, st, INT64_MAX, INT64_MAX)
            return False
        # at the goal: the mutator must not outrun.  Its whole stall (marking, and waiting
        # for the worker) is assist time, the pause apart: GC time for the limiter.
        # (--verify checks the heap inside the pause: neither GC nor mutator time)
        t0 = gcb_now_ns()
        assist0 = heap.assist_ns
        stw0 = heap.events.stw_ns
        verify0 = heap.verifier.verify_ns
        finish_marking(heap, st, False)
        heap.assist_ns = assist0 + (gcb_now_ns() - t0) - (heap.events.stw_ns - stw0) \
            - (heap.verifier.verify_ns - verify0)
        return True
    if budget >= 1.0:
        mutator_mark(heap, st, INT64_MAX, <int64_t>budget + 1)
    return False


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
    cdef int64_t t0, t1, alloc_bytes, bg_cpu, in_use
    cdef int i
    cdef double overhead = 0.0
    finish_sweeping(heap, st)                 # sweep termination, outside the pause
    in_use = heap_in_use(heap)
    if in_use > (<int64_t>1 << 20):           # pages over bytes, every span swept
        overhead = <double>(heap.pages.pages_in_use * <int64_t>PAGE_SIZE) / in_use
    if st.mode == MODE_CONCURRENT:
        start_worker(heap, st)
    heap_stop_world(heap)                     # mutator threads: the handshake
    t0 = cycle_begin(heap, False)             # the pause starts (Pool cleanup runs here)
    reset_marker(&st.mut)
    heap_set_allocate_black(heap, True)       # (releases the current spans: counts exact)
    alloc_bytes = heap.alloc_bytes
    st.mark_start_alloc = alloc_bytes
    st.last_assist_alloc = heap.alloc_bytes
    gcb_store_int(&heap.barrier_on, 1 if st.barrier != BARRIER_NONE else 0)
    if st.barrier == BARRIER_HYBRID:
        st.stack_grey = 1                     # scanned by the mutator at its next safepoint
        for i in range(heap.mt.count):        # ... and every thread's by that thread
            thread_mark(heap.mt.list[i]).stack_grey = 1
    else:
        scan_stack(heap, &st.mut, True)
        for i in range(heap.mt.count):
            scan_thread_stack(heap, &st.mut, heap.mt.list[i])
    # parked goroutines: scanned concurrently from the restart on (goroutines.pyx); in the
    # pause only a new generation, O(1)
    heap.goroutines.gen += 1
    heap.goroutines.rescan_on_park = st.barrier == BARRIER_DIJKSTRA
    heap.goroutines.cursor = 0
    heap.goroutines.cursor_end = heap.goroutines.high
    heap.goroutines.marking = 1
    pthread_mutex_lock(&st.lock)
    for i in range(st.nworkers):
        reset_marker(&st.bg[i])
    bg_cpu = heap.background_cpu_ns           # the workers are idle: stable
    st.mark_start_bg_cpu = bg_cpu
    st.bg_scanned_published = 0
    st.roots_pending = 1
    gcb_store_int(&st.phase, PHASE_MARK)
    pthread_mutex_unlock(&st.lock)
    t1 = gcb_now_ns()
    cycle_pause(heap, PAUSE_MARK_START, t0, t1)
    heap_start_world(heap)
    # Wake the worker only after the restart (as Go starts its mark workers once the world
    # runs): a wakeup can make the scheduler preempt the waker, which inside the pause
    # would stretch it by a time slice.
    if st.mode == MODE_CONCURRENT:
        pthread_mutex_lock(&st.lock)
        pthread_cond_broadcast(&st.work_cond) # the roots are work
        pthread_mutex_unlock(&st.lock)
        queue_put(st, &st.mut, 0)             # the stack's grey objects
    st.mark_start_ns = t0
    pacer_mark_start(&heap.pacer, alloc_bytes, t0, gcb_thread_cpu_ns(), bg_cpu, heap.assist_ns,
                     overhead)

cdef void mark_termination(HeapState* heap, TricolorState* st, bint forced) noexcept nogil:
    cdef int64_t t0, pages, drained = 0, helper_objects, marked0
    cdef int i
    cdef CycleResult r
    cdef Marker* m = &st.mut
    cdef MutatorThread* t
    cdef ThreadMark* tm
    heap_stop_world(heap)                     # mutator threads: the handshake
    t0 = heap.mt.request_ns if heap.mt.request_ns != 0 else gcb_now_ns()
    marked0 = m.marked_objects
    # The world is stopped (we are the mutator, the worker is idle and will not take work).
    if st.barrier == BARRIER_DIJKSTRA:
        scan_stack(heap, m, True)             # stack slots had no barrier: rescan
    scan_own_stack_if_grey(heap, st)
    if st.stack_grey:                         # (mutator 0's, when a thread terminates)
        scan_stack(heap, m, True)
        st.stack_grey = 0
    for i in range(heap.mt.count):            # every thread: its stack if grey, its buffer
        t = heap.mt.list[i]
        tm = thread_mark(t)
        if st.barrier == BARRIER_DIJKSTRA or tm.stack_grey:
            scan_thread_stack(heap, m, t)
            tm.stack_grey = 0
        marked0 += tm.grey.marked_objects     # shaded by its barrier before the pause
        take_thread_mark(heap, st, tm)
    if claim_roots(st):
        scan_globals(heap, m)
    scan_parked_goroutines(heap, m, INT64_MAX)   # none left: termination waits for them
    while True:
        marker_drain(heap, m, INT64_MAX, INT64_MAX, &drained)
        if not queue_take(st, m):
            break
    cycle_note_termination(heap, m.marked_objects - marked0)
    gcb_store_int(&heap.barrier_on, 0)
    heap_set_allocate_black(heap, False)
    heap.goroutines.marking = 0
    # The goal follows Go's heapMarked: the bytes marked, objects allocated black during
    # the cycle included (Go's gcmarknewobject counts them; the arena, a memory limit for
    # the pacer, keeps the goal inside the heap).
    r.scan_work = st.mut.scanned_bytes
    r.live_bytes = st.mut.marked_bytes + heap.alloc_bytes - st.mark_start_alloc
    r.live_objects = st.mut.marked_objects
    helper_objects = 0
    for i in range(st.nworkers):
        r.scan_work += st.bg[i].scanned_bytes
        r.live_bytes += st.bg[i].marked_bytes
        r.live_objects += st.bg[i].marked_objects
        if i > 0:
            helper_objects += st.bg[i].marked_objects
    if st.mode == MODE_CONCURRENT:
        cycle_note_marking(heap, st.nworkers, heap.background_cpu_ns - st.mark_start_bg_cpu,
                           helper_objects)
    r.heap_after = heap_in_use(heap)
    r.mark_ns = t0 - st.mark_start_ns
    r.sweep_start_ns = 0                      # sweeping is lazy, after the restart
    r.forced = forced
    r.paced = True
    r.marks_intact = True                     # verified (and checkmarked) before any sweep
    heap.marked_objects_total += r.live_objects
    pages = heap.pages.pages_in_use
    heap_flip(heap)
    pthread_mutex_lock(&st.lock)
    gcb_store_int(&st.phase, PHASE_IDLE)
    pthread_mutex_unlock(&st.lock)
    cycle_end(heap, PAUSE_MARK_TERMINATION, t0, &r)
    heap_start_world(heap)
    # proportional sweep: spread the spans to sweep over the allocation before the trigger
    st.sweep_pending = 1
    st.sweep_spans_per_poll = pacer_sweep_spans_per_poll(&heap.pacer, pages, heap_in_use(heap), st.poll_bytes)

# Complete the cycle under way on the mutator's thread, helping the worker (runtime.GC()
# and out of memory do this before their full collection; so does the end of a run).
cdef void finish_marking(HeapState* heap, TricolorState* st, bint forced) noexcept nogil:
    cdef bint done = False
    scan_own_stack_if_grey(heap, st)
    while not done:
        mutator_mark(heap, st, INT64_MAX, INT64_MAX)
        pthread_mutex_lock(&st.lock)
        if (st.full == NULL and not st.roots_pending and st.worker_idle and st.mut.grey.length == 0
                and not goroutines_pending(&heap.goroutines)):
            st.phase = PHASE_TERMINATE
            done = True
        elif st.full == NULL and not st.worker_idle:
            pthread_cond_wait(&st.idle_cond, &st.lock)
        pthread_mutex_unlock(&st.lock)
    mark_termination(heap, st, forced)

# Mutator threads: does some thread still hold grey work (hybrid: its stack is grey; any
# barrier: its buffer holds shaded objects)?  Each such thread is asked to poll at its
# next operation, where it scans its own stack and hands its buffer over (Go asks a
# goroutine to scan its stack at its next safepoint, and flushes every P's buffers before
# mark termination); termination waits for them, so that the termination pause has
# little left to mark.  Heap lock held (the thread list changes only under it and the
# handshake lock).
cdef bint threads_hold_grey(HeapState* heap) noexcept nogil:
    cdef bint grey = False
    cdef int i
    cdef ThreadMark* tm
    for i in range(heap.mt.count):
        tm = <ThreadMark*>gcb_load_ptr(&heap.mt.list[i].gc_local)
        if tm != NULL and (tm.stack_grey or gcb_load_i64(&tm.buffered) > 0):
            gcb_store_i64(&heap.mt.list[i].next_poll_ops, 0)
            grey = True
    return grey

# At a safepoint during marking: declare termination if nobody has grey work left.
cdef bint try_terminate(HeapState* heap, TricolorState* st) noexcept nogil:
    cdef bint done
    scan_own_stack_if_grey(heap, st)
    flush_own_buffer(heap, st)
    if heap.mt.count > 0 and threads_hold_grey(heap):
        return False
    if st.mut.grey.length > 0:
        if st.mode == MODE_CONCURRENT and st.worker_running:
            queue_put(st, &st.mut, 0)
        return False
    if st.mode == MODE_CONCURRENT and not st.worker_running:
        mutator_mark(heap, st, INT64_MAX, INT64_MAX)   # no worker (it was stopped): finish alone
    pthread_mutex_lock(&st.lock)
    done = (st.full == NULL and not st.roots_pending and st.worker_idle
            and not goroutines_pending(&heap.goroutines))
    if done:
        gcb_store_int(&st.phase, PHASE_TERMINATE)
    pthread_mutex_unlock(&st.lock)
    if done:
        mark_termination(heap, st, False)
    return done

# A full collection with the world stopped: finish the cycle under way, then the heap's
# stop-the-world collection (one PAUSE_FULL_GC pause, mark and sweep).
cdef void full_collection(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    if st.phase == PHASE_MARK:
        finish_marking(heap, st, True)
    finish_sweeping(heap, st)
    heap_collect_stw(heap, PAUSE_FULL_GC, True)
    schedule_poll(heap, st)


# ---------------------------------------------------------------------------
# Hooks

cdef void schedule_poll(HeapState* heap, TricolorState* st) noexcept nogil:
    if st.phase == PHASE_MARK:
        heap.next_poll_bytes = heap.alloc_bytes + (0 if heap.stress_allocs > 0 else st.poll_bytes)
    elif heap.stress_allocs > 0:
        heap.next_poll_bytes = heap.alloc_bytes
    else:
        # at the trigger; while sweeping is pending or the limiter holds a cycle back, at
        # least every poll_bytes
        heap.next_poll_bytes = pacer_next_poll_bytes(
            &heap.pacer, heap.alloc_bytes, heap_in_use(heap),
            st.poll_bytes if st.sweep_pending or heap.pacer.bucket_fill > 0 else 0)

cdef void tc_alloc_hook(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef int64_t t0, k
    cdef bint start
    pacer_limiter_update(&heap.pacer, gcb_now_ns(), heap.assist_ns + heap.events.stw_ns)
    if st.phase == PHASE_MARK:
        scan_own_stack_if_grey(heap, st)
        if not mark_assist(heap, st):
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
        start = pacer_should_start(&heap.pacer, heap.alloc_bytes)
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
    # only when the cycle ended: rescheduling while marking would push the alloc hook's
    # poll (and so every assist) ahead of the allocation for ever
    if try_terminate(heap, st):
        schedule_poll(heap, st)

# A goroutine's stack scanned at its own safepoint (resume, park: goroutines.pyx).
cdef void tc_scan_goroutine(HeapState* heap, Object** slots, int n) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef int i
    for i in range(n):
        if slots[i] != NULL:
            marker_shade(heap, &st.mut, slots[i])
    st.mut.scanned_bytes += 8 * n
    if st.mode == MODE_CONCURRENT and st.worker_running and st.mut.grey.length >= BLOCK_OBJECTS:
        queue_put(st, &st.mut, 0)

cdef void tc_collect(HeapState* heap) noexcept nogil:
    full_collection(heap)

# The arena is full: the pacer did not start (or finish) a cycle in time.  The full
# stop-the-world collection is the fallback, counted.
cdef void tc_out_of_memory(HeapState* heap) noexcept nogil:
    heap.pacer.full_gc_fallbacks += 1
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
    parmark_stop_threads(<ParMark*>heap.par_mark)     # a later collect() restarts them
    st.finishing = 0

cdef void tc_destroy(HeapState* heap) noexcept nogil:
    cdef TricolorState* st = state_of(heap)
    cdef WorkBlock* b
    cdef int i
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
    for i in range(MAX_MARKERS):
        mark_stack_free(&st.bg[i].grey)
    parmark_free(<ParMark*>heap.par_mark)
    heap.par_mark = NULL
    pthread_mutex_destroy(&st.lock)
    pthread_cond_destroy(&st.work_cond)
    pthread_cond_destroy(&st.idle_cond)
    free(st)
    heap.collector.state = NULL


def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    cdef TricolorState* st
    collector_init(heap, NAME)
    st = <TricolorState*>calloc(1, sizeof(TricolorState))
    if st == NULL:
        raise MemoryError()
    st.barrier = {"none": BARRIER_NONE, "dijkstra": BARRIER_DIJKSTRA, "yuasa": BARRIER_YUASA,
                  "hybrid": BARRIER_HYBRID}[opts["barrier"]]
    st.mode = MODE_INCREMENTAL if opts["mode"] == "incremental" else MODE_CONCURRENT
    st.quantum = opts["quantum"]
    st.step_ops = opts["step_ops"]
    st.poll_bytes = <int64_t>opts["assist_kib"] * 1024
    st.worker_idle = 1
    st.nworkers = opts.get("markers", 1)
    st.phase = PHASE_IDLE
    pthread_mutex_init(&st.lock, NULL)
    pthread_cond_init(&st.work_cond, NULL)
    pthread_cond_init(&st.idle_cond, NULL)
    h.collector.state = st
    h.collector.alloc_hook = tc_alloc_hook
    h.collector.poll_hook = tc_poll_hook
    h.collector.out_of_memory = tc_out_of_memory
    h.collector.collect = tc_collect
    h.collector.write_barrier = tc_write_barrier
    h.collector.thread_write_barrier = tc_thread_write_barrier
    h.collector.thread_exit = tc_thread_exit
    h.collector.finish = tc_finish
    h.collector.destroy = tc_destroy
    if st.nworkers > 1:
        h.par_mark = parmark_new(h, st.nworkers)   # a full collection's pause marks in parallel
        if h.par_mark == NULL:
            raise MemoryError()
    h.goroutines.scan_on_mutator = tc_scan_goroutine
    if st.mode == MODE_INCREMENTAL:
        h.poll_interval_ops = st.step_ops
        h.next_poll_ops = h.mutator_ops + st.step_ops
    pacer_use_runway(&h.pacer, opts["utilization"], st.mode == MODE_INCREMENTAL, h.pages.arena_bytes,
                     opts.get("limiter", "on") == "on")
    schedule_poll(h, st)
