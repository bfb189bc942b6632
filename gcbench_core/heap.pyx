# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
#
# heap.pyx: the heap as a whole: a set of spaces (spaces/: pages, sizeclass, large, bump)
# plus the roots, with the operations that span them: errors and unwinding, the
# allocation slow path's dispatch to a space, safepoint polls and Ctrl-C, marking from
# the roots with an explicit stack (mark-on-push, prefetching drain), sweeping every
# space, the run entry point, and `ManagedHeap`, the Python handle the harness holds
# (with the numpy export of the event log and the trace).  The collection cycle is in
# cycle.pyx, the pacer in pacer.pyx, the verifier in verify.pyx.
#
# Invariants (checked by the verifier):
#   * every object reachable from the roots lies in an in-use span, at an element
#     boundary, is allocated (index < freeindex or alloc bit set) and has a sane header;
#   * alloc_bytes - freed_bytes == sum over in-use spans of allocated objects * elemsize.

from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t, int64_t, uintptr_t, INT64_MAX
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memset, memcpy, strncpy, strlen
from libc.stdio cimport snprintf, fprintf, stderr
from libc.stdlib cimport abort
from gcbench_core.pthread cimport (pthread_t, pthread_mutex_t, pthread_cond_t, pthread_create,
                                   pthread_join, pthread_mutex_init, pthread_mutex_destroy,
                                   pthread_mutex_lock, pthread_mutex_trylock, pthread_mutex_unlock,
                                   pthread_cond_init, pthread_cond_destroy, pthread_cond_wait,
                                   pthread_cond_broadcast)
from gcbench_core.events cimport events_init, events_free
from gcbench_core.pacer cimport pacer_init, pacer_heap_live, pacer_gc_cpu_ns
from gcbench_core.record cimport record_append, record_free
from gcbench_core.spaces.bump cimport bump_free
from gcbench_core.spaces.pages cimport pages_init, pages_free
from gcbench_core.spaces.sizeclass cimport (sizeclass_init, sizeclass_alloc, sizeclass_sync_current,
                                            sizeclass_release_current, sizeclass_sweep_one,
                                            sizeclass_alloc_from, sizeclass_release_cache,
                                            sizeclass_sweep_all)
from gcbench_core.spaces.large cimport large_alloc, large_sweep_one, large_sweep_all
from gcbench_core.verify cimport (heap_verify, verifier_free, CORRUPT_FREE_REACHABLE,
                                  CORRUPT_ACCOUNTING, CORRUPT_HEADER)

from cpython.exc cimport PyErr_CheckSignals
import numpy as np

PAUSE_KIND_NAMES = ("stw-collect", "mark-start", "mark-termination", "full-gc",
                    "gen0", "gen1", "gen2", "young", "increment", "minor", "major")
CYCLE_KIND_NAMES = ("full", "minor", "major")     # CycleRecord.kind (events.pxd)

ERROR_NAMES = {ERR_HEAP_EXHAUSTED: "heap exhausted", ERR_HEAP_CORRUPTION: "heap corruption",
               ERR_INTERRUPTED: "interrupted", ERR_INVALID: "invalid operation",
               ERR_INTERNAL: "internal error"}

# Corruptions a test can ask for (ManagedHeap.corrupt_at), to prove the verifier fails.
CORRUPT_KINDS = {"free-reachable": CORRUPT_FREE_REACHABLE, "accounting": CORRUPT_ACCOUNTING,
                 "header": CORRUPT_HEADER}


# ---------------------------------------------------------------------------
# Errors


cdef void heap_fail(HeapState* heap, int code, const char* msg) noexcept nogil:
    cdef MutatorThread* m
    if gcb_cas_int(&heap.error_code, ERR_NONE, code):    # the first failure of any thread
        strncpy(heap.error_msg, msg, 1023)
        heap.error_msg[1023] = 0
    if heap.in_run:
        m = <MutatorThread*>gcb_current_mutator()
        if m != NULL:
            gcb_throw(&m.escape)     # a mutator thread unwinds to its own entry
        gcb_throw(&heap.escape)


# Debug builds (GCB_DEBUG): internal assertions call heap_fail_assert, and the mutator's
# operations call heap_fail_poisoned when they touch a freed object (poisoned by
# sweep_span).  Both are cold: release builds never call them.
cdef void heap_fail_assert(HeapState* heap, const char* what) noexcept nogil:
    cdef char msg[300]
    snprintf(msg, 300, "internal error (debug assertion): %s", what)
    heap_fail(heap, ERR_INTERNAL, msg)

cdef void heap_fail_poisoned(HeapState* heap, Object* obj, const char* operation) noexcept nogil:
    cdef char msg[300]
    snprintf(msg, 300, "heap corruption: the mutator's %s object %p, which is poisoned (freed) "
             "memory: the collector freed (or moved) an object that was still in use", operation, <void*>obj)
    heap_fail(heap, ERR_HEAP_CORRUPTION, msg)

# ---------------------------------------------------------------------------
# Allocation slow path: the collector's own allocator (baselines outside the arena), the
# large-object space, or the size-class space.

cdef Object* heap_alloc_slow(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil:
    if heap.collector.external_alloc != NULL:
        return heap.collector.external_alloc(heap, nbytes, nslots)
    cdef Object* obj
    if nbytes > MAX_SMALL_SIZE:
        obj = large_alloc(heap, nbytes)
        if obj != NULL and heap.alloc_bump:
            # not a bump object: move the bump space's bases past it
            heap.bump.count_base += 1
            heap.bump.charge_base += charged_bytes(heap, nbytes)
        return obj
    if heap.alloc_bump:
        return bump_alloc_slow(heap, nbytes, nslots)
    return sizeclass_alloc(heap, nbytes)

# The bump space (or nursery) is full: the plan's alloc hook collects (it finds no room),
# then a forced collection, then the heap is exhausted.
cdef Object* bump_alloc_slow(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil:
    cdef char msg[256]
    cdef Object* obj
    cdef int attempt
    for attempt in range(3):
        if attempt == 1:
            heap.collector.alloc_hook(heap)
        elif attempt == 2:
            heap.collector.out_of_memory(heap)
        obj = bump_alloc(&heap.bump, nbytes)
        if obj != NULL:
            heap.alloc_count += 1
            heap.alloc_bytes += charged_bytes(heap, nbytes)
            clear_slots(obj, nslots)
            return obj
    snprintf(msg, 256, "heap exhausted: cannot allocate %u bytes; heap size %lld bytes, %lld bytes live after a full collection",
             nbytes, <long long>heap.pages.arena_bytes, <long long>(heap.alloc_bytes - heap.freed_bytes))
    heap_fail(heap, ERR_HEAP_EXHAUSTED, msg)
    return NULL


# ---------------------------------------------------------------------------
# Safepoint poll (every poll_interval_ops mutator operations)

cdef void heap_poll_slow(HeapState* heap) noexcept nogil:
    heap.next_poll_ops = heap.mutator_ops + heap.poll_interval_ops
    if gcb_sigint_pending():
        heap_fail(heap, ERR_INTERRUPTED, "interrupted")
    if heap.collector.poll_hook != NULL:
        heap.collector.poll_hook(heap)


# ---------------------------------------------------------------------------
# Mutator threads and stop-the-world as a handshake (Go's stopTheWorld / startTheWorld,
# with its P states: running, parked at a safepoint, in a syscall).
#
#   locks     `lock` guards the handshake (stop_requested is also read atomically by the
#             polls); `heap_lock` is the heap lock: every refill of a thread's allocation
#             cache from the shared span lists (mcentral), the lazy sweep it does, large
#             objects and the page heap take it, so a span is swept by exactly one thread
#             (the holder) and no sweepgen CAS is needed; and so does every call into the
#             plan from a thread (alloc hook, poll hook, out of memory), so collector work
#             is serialised.  A thread waiting for the heap lock counts as blocked (it is
#             at a safepoint, holding nothing).  Order: heap_lock, then lock.
#   stop      the requester (a plan's pause: heap_stop_world, heap lock held) sets
#             stop_requested, sets every other thread's next_poll_ops to 0 (so its next
#             safepoint takes the slow path: the fast path stays one test) and waits until
#             every other registered thread is parked or blocked.  Request time and the
#             time to safepoint go into the pause record.
#   park      a thread at its safepoint counts itself stopped and waits for the restart
#             (the epoch to change); it holds no heap lock there.
#   blocked   a thread outside the heap (mt_enter_blocked, Go's entersyscall) counts as
#             stopped; mt_leave_blocked waits while a stop is in effect.
#   restart   stop_requested := 0, stopped := the blocked threads, epoch + 1, broadcast.
#   failure   heap_fail on a thread unwinds to that thread's entry (its escape); it drops
#             the heap lock, restarts a world it stopped and makes every other thread poll,
#             and each thread that sees the error at its safepoint leaves too; the run's
#             thread then fails the run with the first error.


ctypedef struct ThreadSync:
    pthread_mutex_t lock             # the handshake
    pthread_cond_t stopped_cond      # a thread parked, blocked or left
    pthread_cond_t restart_cond      # the world restarted
    pthread_mutex_t heap_lock        # mcentral, large objects, page heap

ctypedef struct ThreadStart:
    MutatorThread* m
    gcb_fn kernel
    void* arg

cdef inline ThreadSync* sync_of(HeapState* heap) noexcept nogil:
    return <ThreadSync*>heap.mt.sync

# The thread counts as stopped: blocked outside the heap, or waiting for the heap lock.
cdef void mt_enter_blocked(MutatorThread* m) noexcept nogil:
    cdef HeapState* heap = m.heap
    cdef ThreadSync* sync = sync_of(heap)
    pthread_mutex_lock(&sync.lock)
    m.blocked = 1
    heap.mt.nblocked += 1
    heap.mt.nstopped += 1
    pthread_cond_broadcast(&sync.stopped_cond)
    pthread_mutex_unlock(&sync.lock)

# Take the heap lock; while waiting the thread counts as blocked (stopped), so a stop
# requested by the holder does not wait for it.  No stop is in effect once it has the
# lock (a stop's requester holds the lock until the restart).
cdef void mt_heap_lock(MutatorThread* m) noexcept nogil:
    cdef HeapState* heap = m.heap
    cdef ThreadSync* sync = sync_of(heap)
    if pthread_mutex_trylock(&sync.heap_lock) == 0:
        m.holds_heap_lock = 1
        return
    mt_enter_blocked(m)
    pthread_mutex_lock(&sync.heap_lock)
    m.holds_heap_lock = 1
    pthread_mutex_lock(&sync.lock)
    m.blocked = 0
    heap.mt.nblocked -= 1
    heap.mt.nstopped -= 1
    pthread_mutex_unlock(&sync.lock)

cdef inline void mt_heap_unlock(MutatorThread* m) noexcept nogil:
    m.holds_heap_lock = 0
    pthread_mutex_unlock(&sync_of(m.heap).heap_lock)

# The thread's allocation-cache counts into the heap's (heap lock held, or world stopped).
cdef inline void mt_flush_counts(HeapState* heap, MutatorThread* m) noexcept nogil:
    heap.alloc_count += m.alloc_count
    heap.alloc_bytes += m.alloc_bytes
    m.alloc_count = 0
    m.alloc_bytes = 0

# Parked at a safepoint until the world restarts (handshake lock held).
cdef void mt_park(HeapState* heap) noexcept nogil:
    cdef ThreadSync* sync = sync_of(heap)
    cdef int64_t epoch = heap.mt.epoch
    heap.mt.nstopped += 1
    pthread_cond_broadcast(&sync.stopped_cond)
    while heap.mt.epoch == epoch:
        pthread_cond_wait(&sync.restart_cond, &sync.lock)

cdef void mt_poll_slow(MutatorThread* m) noexcept nogil:
    cdef HeapState* heap = m.heap
    cdef ThreadSync* sync = sync_of(heap)
    gcb_store_i64_sc(&m.next_poll_ops, m.ops + heap.poll_interval_ops)
    if gcb_sigint_pending():
        heap_fail(heap, ERR_INTERRUPTED, "interrupted")
    if gcb_load_int_sc(&heap.mt.stop_requested):
        pthread_mutex_lock(&sync.lock)
        while heap.mt.stop_requested:
            mt_park(heap)
        pthread_mutex_unlock(&sync.lock)
    if gcb_load_int(&heap.error_code) != ERR_NONE:
        gcb_throw(&m.escape)         # another thread failed the run: leave
    if heap.collector.poll_hook != NULL and heap.allocate_black:
        # marking is on (allocate_black changes only with the world stopped): the plan's
        # safepoint work (tricolor: this thread's stack scan, incremental steps, termination)
        mt_heap_lock(m)
        heap.collector.poll_hook(heap)
        mt_heap_unlock(m)

cdef void mt_leave_blocked(MutatorThread* m) noexcept nogil:
    cdef HeapState* heap = m.heap
    cdef ThreadSync* sync = sync_of(heap)
    pthread_mutex_lock(&sync.lock)
    while heap.mt.stop_requested:
        pthread_cond_wait(&sync.restart_cond, &sync.lock)
    m.blocked = 0
    heap.mt.nblocked -= 1
    heap.mt.nstopped -= 1
    pthread_mutex_unlock(&sync.lock)
    mt_poll_slow(m)                  # the safepoint of coming back (and its error check)

# Stop every other registered thread; true when this thread stopped the world (then it
# must call world_start), false when another thread's stop was in effect (this thread
# parked through it; the caller looks again at what made it want a stop).
cdef bint world_stop(HeapState* heap, MutatorThread* m) noexcept nogil:
    cdef ThreadSync* sync = sync_of(heap)
    cdef int64_t t0, t1
    cdef int i, others
    pthread_mutex_lock(&sync.lock)
    if heap.mt.stop_requested:
        while heap.mt.stop_requested:
            mt_park(heap)
        pthread_mutex_unlock(&sync.lock)
        return False
    t0 = gcb_now_ns()
    gcb_store_int_sc(&heap.mt.stop_requested, 1)
    heap.mt.owner = m
    for i in range(heap.mt.count):
        if heap.mt.list[i] != m:
            gcb_store_i64_sc(&heap.mt.list[i].next_poll_ops, 0)
    others = heap.mt.count - (1 if m != NULL else 0)
    while heap.mt.nstopped < others:
        pthread_cond_wait(&sync.stopped_cond, &sync.lock)
    t1 = gcb_now_ns()
    heap.mt.request_ns = t0
    heap.mt.stopping_ns = t1 - t0
    pthread_mutex_unlock(&sync.lock)
    for i in range(heap.mt.count):
        mt_flush_counts(heap, heap.mt.list[i])
    return True

cdef void world_start_locked(HeapState* heap) noexcept nogil:
    heap.mt.stops += 1
    heap.mt.request_ns = 0
    heap.mt.stopping_ns = 0
    heap.mt.owner = NULL
    heap.mt.nstopped = heap.mt.nblocked
    heap.mt.epoch += 1
    gcb_store_int_sc(&heap.mt.stop_requested, 0)
    pthread_cond_broadcast(&sync_of(heap).restart_cond)

cdef void world_start(HeapState* heap) noexcept nogil:
    cdef ThreadSync* sync = sync_of(heap)
    pthread_mutex_lock(&sync.lock)
    world_start_locked(heap)
    pthread_mutex_unlock(&sync.lock)

# The allocation slow path of a thread, under the heap lock: the thread's counts go into
# the heap's; at the poll point the plan's alloc hook runs (it stops the world for its
# pauses itself); then a large object, or the size class refilled into the thread's
# cache (a full heap calls the plan's out_of_memory, under the same lock).
cdef Object* mt_alloc_slow(MutatorThread* m, uint32_t nbytes, uint32_t nslots) noexcept nogil:
    cdef HeapState* heap = m.heap
    cdef Object* obj
    mt_heap_lock(m)
    mt_flush_counts(heap, m)
    if heap.alloc_bytes >= heap.next_poll_bytes:
        heap.collector.alloc_hook(heap)
    if nbytes > MAX_SMALL_SIZE:
        obj = large_alloc(heap, nbytes)
    else:
        obj = sizeclass_alloc_from(heap, m.current, nbytes)
    mt_heap_unlock(m)
    return obj

cdef void mt_collect(MutatorThread* m) noexcept nogil:
    mt_heap_lock(m)
    mt_flush_counts(m.heap, m)
    m.heap.collector.collect(m.heap)
    mt_heap_unlock(m)

# Only a mutator thread stops the world: the run's own thread (mutator 0) never runs at
# the same time as the threads (it waits for them), so from it there is nothing to stop
# and its pauses stay exactly as in a single-threaded run.
cdef void heap_stop_world(HeapState* heap) noexcept nogil:
    cdef MutatorThread* m = <MutatorThread*>gcb_current_mutator()
    if m != NULL:
        world_stop(heap, m)

# The stop in effect is the caller's (a stop's requester holds the heap lock throughout).
cdef void heap_start_world(HeapState* heap) noexcept nogil:
    if gcb_current_mutator() != NULL and heap.mt.request_ns != 0:
        world_start(heap)

cdef MutatorThread* heap_current_thread() noexcept nogil:
    return <MutatorThread*>gcb_current_mutator()

# The thread list changes under both locks, so the plan may read it under either (the
# heap lock: its hooks; the handshake lock: a stop).  Not yet registered, the thread
# waits for the heap lock without counting as stopped (no stop waits for it).
cdef void mt_register(HeapState* heap, MutatorThread* m) noexcept nogil:
    cdef ThreadSync* sync = sync_of(heap)
    pthread_mutex_lock(&sync.heap_lock)
    pthread_mutex_lock(&sync.lock)
    while heap.mt.stop_requested:
        pthread_cond_wait(&sync.restart_cond, &sync.lock)
    heap.mt.list[heap.mt.count] = m
    heap.mt.count += 1
    pthread_mutex_unlock(&sync.lock)
    pthread_mutex_unlock(&sync.heap_lock)

# Leave the heap: parked through a stop in effect, then the cache goes back to the span
# lists, the counts into the heap's, and the thread out of the list.
cdef void mt_unregister(HeapState* heap, MutatorThread* m) noexcept nogil:
    cdef ThreadSync* sync = sync_of(heap)
    cdef int i
    mt_heap_lock(m)                  # (no stop in effect while this thread holds it)
    mt_flush_counts(heap, m)
    sizeclass_release_cache(heap, m.current)
    if heap.collector.thread_exit != NULL:
        heap.collector.thread_exit(heap, m)
    pthread_mutex_lock(&sync.lock)
    heap.mutator_ops += m.ops
    heap.mt.threads_cpu_ns += m.cpu_ns
    for i in range(heap.mt.count):
        if heap.mt.list[i] == m:
            heap.mt.list[i] = heap.mt.list[heap.mt.count - 1]
            heap.mt.count -= 1
            break
    pthread_cond_broadcast(&sync.stopped_cond)
    pthread_mutex_unlock(&sync.lock)
    mt_heap_unlock(m)

# After heap_fail unwound thread m: no lock held, no world left stopped, and every other
# thread polls at its next operation (and leaves, seeing the error).
cdef void mt_after_failure(HeapState* heap, MutatorThread* m) noexcept nogil:
    cdef ThreadSync* sync = sync_of(heap)
    cdef int i
    pthread_mutex_lock(&sync.lock)
    if m.blocked:                    # (failed while outside the heap: back in, stopped no more)
        m.blocked = 0
        heap.mt.nblocked -= 1
        heap.mt.nstopped -= 1
    if heap.mt.stop_requested and heap.mt.owner == m:
        world_start_locked(heap)
    for i in range(heap.mt.count):
        gcb_store_i64_sc(&heap.mt.list[i].next_poll_ops, 0)
    pthread_mutex_unlock(&sync.lock)
    if m.holds_heap_lock:
        mt_heap_unlock(m)

cdef void* mt_thread_main(void* arg) noexcept nogil:
    cdef ThreadStart* start = <ThreadStart*>arg
    cdef MutatorThread* m = start.m
    cdef HeapState* heap = m.heap
    cdef int64_t cpu0 = gcb_thread_cpu_ns(), wall0 = gcb_now_ns()
    gcb_set_current_mutator(m)
    mt_register(heap, m)
    if gcb_call_protected(&m.escape, start.kernel, start.arg):
        mt_after_failure(heap, m)
    m.cpu_ns = gcb_thread_cpu_ns() - cpu0
    m.wall_ns = gcb_now_ns() - wall0
    mt_unregister(heap, m)
    gcb_set_current_mutator(NULL)
    return NULL

cdef void mt_thread_init(HeapState* heap, MutatorThread* m, int id) noexcept nogil:
    cdef int c
    memset(m, 0, sizeof(MutatorThread))
    m.heap = heap
    m.id = id
    m.next_poll_ops = heap.poll_interval_ops
    for c in range(MAX_CLASSES):
        m.current[c] = &heap.sizeclass.empty_span

cdef void mt_run_threads(HeapState* heap, int n, MutatorThread* threads, gcb_fn kernel, void** args) noexcept nogil:
    cdef ThreadStart starts[MAX_MUTATOR_THREADS]
    cdef pthread_t ids[MAX_MUTATOR_THREADS]
    cdef int i, started = 0
    cdef ThreadSync* sync = sync_of(heap)
    if n < 1 or n > MAX_MUTATOR_THREADS or heap.mt.count != 0:
        heap_fail(heap, ERR_INVALID, "invalid operation: mutator threads out of range, or already running")
        return
    for i in range(n):
        mt_thread_init(heap, &threads[i], i + 1)
        starts[i].m = &threads[i]
        starts[i].kernel = kernel
        starts[i].arg = args[i]
        if pthread_create(&ids[i], NULL, mt_thread_main, &starts[i]) != 0:
            if gcb_cas_int(&heap.error_code, ERR_NONE, ERR_INTERNAL):
                strncpy(heap.error_msg, "cannot start a mutator thread", 1023)
            pthread_mutex_lock(&sync.lock)
            for i in range(heap.mt.count):
                gcb_store_i64_sc(&heap.mt.list[i].next_poll_ops, 0)
            pthread_mutex_unlock(&sync.lock)
            break
        started += 1
    for i in range(started):
        pthread_join(ids[i], NULL)
    if heap.error_code != ERR_NONE and heap.in_run:
        gcb_throw(&heap.escape)


cdef int mt_group_init(MutatorGroup* group, int n) except -1:
    group.n = n
    group.threads = <MutatorThread*>calloc(n, sizeof(MutatorThread))
    group.args = <void**>calloc(n, sizeof(void*))
    if group.threads == NULL or group.args == NULL:
        mt_group_free(group)
        raise MemoryError()
    return 0

cdef void mt_group_free(MutatorGroup* group) noexcept:
    free(group.threads)
    free(group.args)
    group.threads = NULL
    group.args = NULL

cdef dict mt_group_figures(MutatorGroup* group):
    cdef int i
    return {"threads": group.n,
            "thread_cpu_s": [group.threads[i].cpu_ns / 1e9 for i in range(group.n)],
            "thread_wall_s": [group.threads[i].wall_ns / 1e9 for i in range(group.n)],
            "thread_ops": [group.threads[i].ops for i in range(group.n)]}


cdef void heap_check_interrupt(HeapState* heap) noexcept nogil:
    if gcb_sigint_pending():
        heap_fail(heap, ERR_INTERRUPTED, "interrupted")


cdef bint heap_interrupt_requested(HeapState* heap) noexcept nogil:
    if not gcb_sigint_pending():
        return False
    heap_fail(heap, ERR_INTERRUPTED, "interrupted")
    return True

cdef bint heap_sigint_pending() noexcept nogil:
    return gcb_sigint_pending()


cdef Object* heap_refuse_object(HeapState* heap, uint32_t nslots, uint32_t payload) noexcept nogil:
    cdef char msg[300]
    snprintf(msg, 300, "invalid operation: an object of %u pointer slots and %u payload bytes "
             "(%llu bytes with its header) exceeds the largest object, %d bytes (1 GiB)",
             nslots, payload, <unsigned long long>(8 + 8 * <uint64_t>nslots + payload),
             <int>MAX_OBJECT_BYTES)
    heap_fail(heap, ERR_INVALID, msg)
    return NULL


# ---------------------------------------------------------------------------
# Marking with the world stopped: mark-on-push, an explicit stack, never recursion.

cdef void mark_stack_grow(MarkStack* stack) noexcept nogil:
    cdef int64_t cap = stack.capacity * 2 if stack.capacity > 0 else 4096
    cdef Object** items = <Object**>realloc(stack.items, cap * sizeof(Object*))
    if items == NULL:
        # Out of C memory for the mark stack: nothing sensible can continue.
        fprintf(stderr, b"gcbench: out of memory growing a mark stack to %lld entries\n", <long long>cap)
        abort()
    stack.items = items
    stack.capacity = cap

cdef void mark_stack_free(MarkStack* stack) noexcept nogil:
    free(stack.items)
    stack.items = NULL
    stack.length = 0
    stack.capacity = 0

cdef inline void mark_slot_value(HeapState* heap, MarkStack* stack, Object* obj) noexcept nogil:
    if obj != NULL and mark_object(heap, obj):
        mark_stack_push(stack, obj)

cdef void heap_mark_stack_roots(HeapState* heap, MarkStack* stack) noexcept nogil:
    cdef int i, t
    for i in range(heap.roots.nstack):
        mark_slot_value(heap, stack, heap.roots.stack[i])
    for t in range(heap.mt.count):       # every mutator thread's stack (world stopped)
        for i in range(MAX_STACK_SLOTS):
            mark_slot_value(heap, stack, heap.mt.list[t].stack[i])

cdef void heap_visit_roots(HeapState* heap, root_visit_fn fn, void* arg) noexcept nogil:
    cdef int i, t
    cdef int64_t j
    goroutine_count_scan(heap, True, True)             # parked stacks are an extra root range
    for i in range(heap.roots.nstack):
        if heap.roots.stack[i] != NULL:
            fn(heap, &heap.roots.stack[i], arg)
    for t in range(heap.mt.count):
        for i in range(MAX_STACK_SLOTS):
            if heap.mt.list[t].stack[i] != NULL:
                fn(heap, &heap.mt.list[t].stack[i], arg)
    for i in range(heap.roots.nglobals):
        if heap.roots.globals[i] != NULL:
            fn(heap, &heap.roots.globals[i], arg)
    for i in range(heap.roots.nextra_roots):
        for j in range(heap.roots.extra_roots[i].count):
            if heap.roots.extra_roots[i].slots[j] != NULL:
                fn(heap, &heap.roots.extra_roots[i].slots[j], arg)

# Grey every root: the stack slots (unless include_stack is false), the globals and the
# extra root ranges.
cdef void heap_mark_roots(HeapState* heap, MarkStack* stack, bint include_stack) noexcept nogil:
    cdef int i
    cdef int64_t j
    if include_stack:
        heap_mark_stack_roots(heap, stack)
    goroutine_count_scan(heap, include_stack, True)    # parked stacks are an extra root range
    for i in range(heap.roots.nglobals):
        mark_slot_value(heap, stack, <Object*>gcb_load_ptr(<void**>&heap.roots.globals[i]))
    for i in range(heap.roots.nextra_roots):
        for j in range(heap.roots.extra_roots[i].count):
            mark_slot_value(heap, stack, <Object*>gcb_load_ptr(<void**>&heap.roots.extra_roots[i].slots[j]))

# Scan grey objects until the stack is empty; returns the number scanned.
#
# Objects popped from the mark stack pass through a small FIFO before they are scanned,
# and are prefetched as they enter it (Cher, Hosking & Vijaykumar, ASPLOS 2004; Boehm's
# GC does the same): by the time an object is scanned its header and slots are in cache,
# so a marker walking a shuffled graph waits for several misses at once instead of one
# after another.  Marking happens on push (mark_object), so an object enters the stack once.
cdef int64_t heap_drain(HeapState* heap, MarkStack* stack) noexcept nogil:
    cdef int64_t scanned = 0
    cdef MarkFifo fifo
    cdef Object* obj
    cdef Object* child
    cdef Object** slots
    cdef uint32_t i, n
    mark_fifo_init(&fifo, heap.prefetch_depth)
    while True:
        obj = mark_fifo_next(&fifo, stack)
        if obj == NULL:
            break
        scanned += 1
        if gcb_unlikely((scanned & 0xFFFF) == 0):
            heap_check_interrupt(heap)       # Ctrl-C within a pause over a large heap
        n = obj.nslots
        slots = obj_slots(obj)
        for i in range(n):
            child = slots[i]
            if child != NULL and mark_object(heap, child):
                mark_stack_push(stack, child)
    return scanned

# ---------------------------------------------------------------------------
# Sweeping every space (large objects first, then the size classes)

# End of marking: every current span goes back to its list and the sweep generation
# advances, so that every in-use span now needs sweeping.  O(size classes).
cdef void heap_flip(HeapState* heap) noexcept nogil:
    sizeclass_release_current(heap)
    heap.pages.sweepgen += 2

cdef bint heap_sweep_one(HeapState* heap) noexcept nogil:
    # Sweep one unswept span of any space; false when nothing is left to sweep.
    return large_sweep_one(heap) or sizeclass_sweep_one(heap)

cdef void heap_sweep_all(HeapState* heap) noexcept nogil:
    large_sweep_all(heap)
    sizeclass_sweep_all(heap)

cdef void heap_release_current_spans(HeapState* heap) noexcept nogil:
    sizeclass_release_current(heap)

cdef void heap_sync_current_spans(HeapState* heap) noexcept nogil:
    sizeclass_sync_current(heap)

cdef int64_t heap_in_use_exact(HeapState* heap, int64_t* objects) noexcept nogil:
    sizeclass_sync_current(heap)
    objects[0] = heap.alloc_count - heap.freed_count
    return heap.alloc_bytes - heap.freed_bytes

# Turn allocate-black on or off.  Every current span is released, so that the spans the
# fast path takes from next carry the new ALLOC_BLACK flag.  O(size classes).
cdef void heap_set_allocate_black(HeapState* heap, bint on) noexcept nogil:
    heap.allocate_black = on
    sizeclass_release_current(heap)


# ---------------------------------------------------------------------------
# Operation recording: the slow path of the mutator operations' `heap.trace != NULL`
# test (the buffer is record.pyx's).

cdef void heap_trace_append(HeapState* heap, uint8_t op, uint8_t a, uint8_t b, uint8_t flags,
                            uint32_t x, uint32_t y) noexcept nogil:
    if not record_append(heap.trace, op, a, b, flags, x, y):
        heap_fail(heap, ERR_INTERNAL, "out of memory recording the operation trace")


# ---------------------------------------------------------------------------
# Default collector hooks (a heap with no collector attached never collects)

cdef void collector_never_collects(HeapState* heap) noexcept nogil:
    heap.next_poll_bytes = INT64_MAX

cdef void collector_noop(HeapState* heap) noexcept nogil:
    pass

cdef void barrier_noop(HeapState* heap, Object** slot, Object* new_value) noexcept nogil:
    pass


cdef void collector_reset(HeapState* heap, const char* name) noexcept nogil:
    memset(&heap.collector, 0, sizeof(Collector))
    strncpy(heap.collector.name, name, sizeof(heap.collector.name) - 1)
    heap.collector.alloc_hook = collector_never_collects
    heap.collector.poll_hook = NULL
    heap.collector.out_of_memory = collector_noop
    heap.collector.collect = collector_noop
    heap.collector.write_barrier = barrier_noop
    heap.collector.finish = collector_noop
    heap.collector.destroy = collector_noop
    heap.next_poll_bytes = INT64_MAX

cdef int collector_init(ManagedHeap heap, str name) except -1:
    cdef bytes encoded = name.encode()
    if len(encoded) >= sizeof(heap.state.collector.name):
        raise ValueError(f"collector name {name!r} is too long")
    heap.state.collector.destroy(heap.state)
    collector_reset(heap.state, encoded)
    heap.state.prefetch_depth = PREFETCH_DEFAULT
    return 0


# ---------------------------------------------------------------------------
# The run entry point: calls a workload kernel with unwinding on failure.

ctypedef struct RunCall:
    HeapState* heap
    gcb_fn kernel
    void* arg

cdef void run_trampoline(void* p) noexcept nogil:
    cdef RunCall* call = <RunCall*>p
    call.kernel(call.arg)
    call.heap.collector.finish(call.heap)

cdef int heap_run(HeapState* heap, gcb_fn kernel, void* arg) noexcept nogil:
    cdef RunCall call
    cdef int failed
    cdef int64_t cpu0
    call.heap = heap
    call.kernel = kernel
    call.arg = arg
    heap.in_run = 1
    gcb_install_sigint()
    cpu0 = gcb_thread_cpu_ns()
    heap.run_start_ns = gcb_now_ns()
    failed = gcb_call_protected(&heap.escape, run_trampoline, &call)
    heap.in_run = 0
    heap_sync_current_spans(heap)        # give back what is left of the bump runs
    if failed:
        # the collector may have helper threads: stop them, ignoring further failures
        heap.collector.finish(heap)
    heap.run_end_ns = gcb_now_ns()
    heap.mutator_cpu_ns = gcb_thread_cpu_ns() - cpu0 + heap.mt.threads_cpu_ns
    gcb_restore_sigint()
    cdef int64_t in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    return heap.error_code


PRETOUCH_CHUNK_PAGES = 8192         # 64 MiB of arena between Ctrl-C checks


# Write one zero byte into every 4 KiB page of [p, p + n): each page faults in now, so the
# run does not pay its first touch.  The memory is mapped zeroed, so nothing changes.
cdef int64_t touch_pages(char* p, int64_t n) noexcept nogil:
    cdef int64_t i = 0
    if p == NULL:
        return 0
    while i < n:
        p[i] = 0
        i += 4096
    return n


class HeapError(RuntimeError):
    """A run failed inside the kernel: heap exhausted, heap corruption, interrupted."""
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


PAUSE_DTYPE = np.dtype([("start_ns", np.int64), ("end_ns", np.int64), ("kind", np.int64), ("cycle", np.int64),
                        ("stopping_ns", np.int64)])
CYCLE_DTYPE = np.dtype([(name, np.int64) for name in (
    "start_ns", "end_ns", "heap_before", "heap_after", "live_bytes", "live_objects",
    "goal_bytes", "mark_ns", "sweep_ns", "forced", "kind", "young_bytes", "survived_bytes",
    "cycle_goal_bytes", "gc_cpu_ns", "stack_scan_bytes", "stack_scan_pause_bytes",
    "markers", "mark_cpu_ns", "mark_helper_objects", "termination_marked_objects")])


# One TraceRecord (heap.pxd); the binary trace format stores these after its header.
TRACE_DTYPE = np.dtype([("op", np.uint8), ("a", np.uint8), ("b", np.uint8), ("flags", np.uint8),
                        ("x", np.uint32), ("y", np.uint32)])
assert TRACE_DTYPE.itemsize == sizeof(TraceRecord)
TRACE_OPS = {"alloc": TRACE_ALLOC, "store": TRACE_STORE, "load": TRACE_LOAD, "clear": TRACE_CLEAR,
             "gc": TRACE_GC, "gset": TRACE_GSET, "gget": TRACE_GGET, "tick": TRACE_TICK,
             "drop": TRACE_DROP}


cdef class ManagedHeap:
    """A heap of `heap_bytes` (rounded up to pages) with GOGC `gogc` (None: off).

    The harness builds one per run, lets a collector module attach itself, runs a
    workload module on it, then reads the events with `pauses()`, `cycles()` and
    `counters()`.
    """

    def __cinit__(self, int64_t heap_bytes, gogc=100, bint verify=False, int64_t stress_allocs=0,
                  bint checkmark=False, int64_t memlimit=0, int procs=1):
        cdef HeapState* heap
        cdef uint32_t npages
        cdef ThreadSync* sync
        self.state = NULL
        if heap_bytes < PAGE_SIZE * 4:
            raise ValueError(f"heap size {heap_bytes} bytes is too small (at least {PAGE_SIZE * 4})")
        if heap_bytes > (<int64_t>PAGE_SIZE) * 0x7FFFFFF0:
            raise ValueError(f"heap size {heap_bytes} bytes is too large")
        heap = <HeapState*>calloc(1, sizeof(HeapState))
        if heap == NULL:
            raise MemoryError()
        self.state = heap
        npages = <uint32_t>((heap_bytes + PAGE_SIZE - 1) // PAGE_SIZE)
        if not pages_init(heap, npages):
            raise MemoryError(f"cannot map a heap of {heap.pages.arena_bytes} bytes")
        heap.los.lists[0].head = NO_SPAN
        heap.los.lists[1].head = NO_SPAN
        sizeclass_init(heap)
        heap.roots.nstack = MAX_STACK_SLOTS
        heap.roots.nglobals = MAX_GLOBALS
        pacer_init(&heap.pacer, -1 if gogc is None else int(gogc), memlimit, procs)
        heap.peak_live_bytes = 0
        heap.next_poll_bytes = INT64_MAX
        heap.poll_interval_ops = 4096
        heap.prefetch_depth = PREFETCH_DEFAULT
        heap.next_poll_ops = heap.poll_interval_ops
        heap.verify = verify
        heap.stress_allocs = stress_allocs
        heap.checkmark = checkmark
        heap.mark_stack = <MarkStack*>calloc(1, sizeof(MarkStack))
        if not events_init(&heap.events) or heap.mark_stack == NULL:
            raise MemoryError()
        sync = <ThreadSync*>calloc(1, sizeof(ThreadSync))
        if sync == NULL:
            raise MemoryError()
        pthread_mutex_init(&sync.lock, NULL)
        pthread_mutex_init(&sync.heap_lock, NULL)
        pthread_cond_init(&sync.stopped_cond, NULL)
        pthread_cond_init(&sync.restart_cond, NULL)
        heap.mt.sync = sync
        collector_reset(heap, "none")

    def __dealloc__(self):
        cdef HeapState* heap = self.state
        cdef ThreadSync* sync
        if heap == NULL:
            return
        # __cinit__ may have failed (MemoryError mapping the arena) before the default
        # hooks were set: destroy is then still NULL
        if heap.collector.destroy != NULL:
            heap.collector.destroy(heap)
        pages_free(heap)
        bump_free(&heap.bump)
        verifier_free(heap)
        if heap.mark_stack != NULL:
            mark_stack_free(heap.mark_stack)
            free(heap.mark_stack)
        record_free(heap.trace)
        free(heap.goroutines.slots)          # the goroutine stacks room (goroutines.pyx)
        free(heap.goroutines.status)
        free(heap.goroutines.scan_gen)
        free(heap.goroutines.free_list)
        events_free(&heap.events)
        if heap.mt.sync != NULL:
            sync = <ThreadSync*>heap.mt.sync
            pthread_mutex_destroy(&sync.lock)
            pthread_mutex_destroy(&sync.heap_lock)
            pthread_cond_destroy(&sync.stopped_cond)
            pthread_cond_destroy(&sync.restart_cond)
            free(sync)
        free(heap)
        self.state = NULL

    @property
    def heap_bytes(self):
        return self.state.pages.arena_bytes

    def pretouch(self, int64_t limit_bytes):
        """Fault in the first `limit_bytes` of the arena (all of it when smaller) and the
        side tables of those pages (span records, page map, bitmaps) before the run,
        outside its timed region, so that no collector's times include first-touch page
        faults (nogc's would be all of them).  Fresh pages are handed out from the low end
        of the arena (a bump pointer), so a run that stays below the limit never touches
        an untouched page.  A copying plan's bump space is faulted in too (up to the same
        limit).  Returns (arena bytes touched, seconds)."""
        cdef HeapState* heap = self.state
        cdef int64_t npages = heap.pages.npages, t0, t1, first, count, bump_bytes
        if limit_bytes < heap.pages.arena_bytes:
            npages = limit_bytes // PAGE_SIZE
        t0 = gcb_now_ns()
        # in chunks of PRETOUCH_CHUNK_PAGES, checking for signals between them, so that
        # Ctrl-C stops a long pretouch at once (KeyboardInterrupt, before the run)
        for first in range(0, npages, PRETOUCH_CHUNK_PAGES):
            count = min(PRETOUCH_CHUNK_PAGES, npages - first)
            with nogil:
                touch_pages(heap.pages.arena + first * PAGE_SIZE, count * PAGE_SIZE)
                touch_pages(<char*>(heap.pages.spans + first), count * sizeof(Span))
                touch_pages(<char*>(heap.pages.page_map + first), count * sizeof(uint32_t))
                touch_pages(<char*>(heap.pages.alloc_bits_area + first * BITMAP_WORDS_PER_PAGE),
                            count * BITMAP_WORDS_PER_PAGE * 8)
                touch_pages(<char*>(heap.pages.mark_bits_area + first * BITMAP_WORDS_PER_PAGE),
                            count * BITMAP_WORDS_PER_PAGE * 8)
            PyErr_CheckSignals()         # raises KeyboardInterrupt on Ctrl-C
        # a copying plan's bump space (both halves, or the nursery) is memory of the run
        # too: faulted in the same way, up to the same limit
        bump_bytes = min(2 * heap.bump.half_bytes, limit_bytes) if heap.bump.base != NULL else 0
        for first in range(0, bump_bytes, PRETOUCH_CHUNK_PAGES * PAGE_SIZE):
            count = min(PRETOUCH_CHUNK_PAGES * PAGE_SIZE, bump_bytes - first)
            with nogil:
                touch_pages(heap.bump.base + first, count)
            PyErr_CheckSignals()
        t1 = gcb_now_ns()
        return npages * PAGE_SIZE, (t1 - t0) / 1e9

    @property
    def collector_name(self):
        return self.state.collector.name.decode()

    def check_error(self):
        """Raise HeapError if the last run failed."""
        cdef HeapState* heap = self.state
        if heap.error_code != ERR_NONE:
            raise HeapError(ERROR_NAMES.get(heap.error_code, "error"), heap.error_msg.decode(errors="replace"))

    def collect(self):
        """runtime.GC(): a full collection now (outside a run)."""
        cdef HeapState* heap = self.state
        with nogil:
            heap.in_run = 0
            heap.collector.collect(heap)
        self.check_error()

    def verify(self, bint check_marks=False):
        """Run the heap verifier now; raises HeapError on a violation, or with kind
        "interrupted" on Ctrl-C (the verifier checks for it as it goes)."""
        with nogil:
            gcb_install_sigint()
            heap_verify(self.state, check_marks)
            gcb_restore_sigint()
        self.check_error()

    def corrupt_at(self, int cycle, str kind):
        """Test-only: damage the heap at the end of cycle `cycle` (kinds: CORRUPT_KINDS)."""
        self.state.verifier.corrupt_at_cycle = cycle
        self.state.verifier.corrupt_kind = CORRUPT_KINDS[kind]

    def pacer_workers(self):
        """(dedicated mark workers, fractional utilization goal per P) for this heap's
        GOMAXPROCS, as Go's gcControllerState.startCycle computes them."""
        return self.state.pacer.dedicated_workers, self.state.pacer.fractional_goal

    def pauses(self):
        """Every pause as a numpy structured array (start_ns, end_ns, kind, cycle)."""
        cdef HeapState* heap = self.state
        out = np.empty(heap.events.npauses, dtype=PAUSE_DTYPE)
        if heap.events.npauses:
            memcpy(<void*><uintptr_t>out.ctypes.data, heap.events.pauses, heap.events.npauses * sizeof(PauseRecord))
        return out

    def cycles(self):
        """Every cycle as a numpy structured array (see CYCLE_DTYPE)."""
        cdef HeapState* heap = self.state
        out = np.empty(heap.events.ncycles, dtype=CYCLE_DTYPE)
        if heap.events.ncycles:
            memcpy(<void*><uintptr_t>out.ctypes.data, heap.events.cycles, heap.events.ncycles * sizeof(CycleRecord))
        return out

    def progress(self):
        """(mutator operations, completed cycles) so far: two plain loads, no heap work, so
        another Python thread may call it while the kernel runs without the GIL (a progress
        display polls it; the values may be a moment old)."""
        return self.state.mutator_ops, self.state.events.ncycles

    def counters(self):
        """The run's counters, MemStats-like where Go has a name for them."""
        cdef HeapState* heap = self.state
        heap_sync_current_spans(heap)
        return {
            "alloc_count": heap.alloc_count,
            "alloc_bytes": heap.alloc_bytes,
            "free_count": heap.freed_count,
            "free_bytes": heap.freed_bytes,
            "heap_in_use_bytes": heap.alloc_bytes - heap.freed_bytes,
            "mutator_ops": heap.mutator_ops,
            "cycles": heap.events.ncycles,
            "peak_heap_bytes": heap.peak_heap_bytes,
            "peak_live_bytes": heap.peak_live_bytes,
            "peak_pages_bytes": heap.pages.peak_pages_in_use * PAGE_SIZE,
            "pages_in_use_bytes": heap.pages.pages_in_use * PAGE_SIZE,
            "heap_goal_bytes": heap.pacer.heap_goal if heap.pacer.heap_goal != INT64_MAX else None,
            "last_marked_bytes": heap.pacer.last_marked_bytes,
            "run_start_ns": heap.run_start_ns,
            "run_end_ns": heap.run_end_ns,
            "mutator_cpu_ns": heap.mutator_cpu_ns,
            "stw_ns": heap.events.stw_ns,
            "sweep_ns": heap.sweep_ns,
            "assist_ns": heap.assist_ns,
            "background_mark_ns": heap.background_mark_ns,
            "background_cpu_ns": heap.background_cpu_ns,
            "barrier_slow_calls": heap.barrier_slow_calls,
            "barrier_shades": heap.barrier_shades,
            "floating_garbage_bytes": heap.verifier.floating_garbage_bytes,
            "goal_overruns": heap.pacer.goal_overruns,
            "full_gc_fallbacks": heap.pacer.full_gc_fallbacks,
            "procs": heap.pacer.procs,
            "memory_limit_bytes": heap.pacer.memory_limit if heap.pacer.memory_limit != INT64_MAX else None,
            "heap_live_bytes": pacer_heap_live(&heap.pacer, heap.alloc_bytes),
            "gc_cpu_go_ns": pacer_gc_cpu_ns(&heap.pacer, heap.events.stw_ns, heap.assist_ns),
            "idle_mark_cpu_ns": heap.pacer.idle_mark_cpu_ns,
            "limiter_enabled": heap.pacer.limiter_enabled,
            "limiter_limited_ns": heap.pacer.limiter_limited_ns,
            "limiter_overflow_ns": heap.pacer.limiter_overflow_ns,
            "verify_ns": heap.verifier.verify_ns,
            "verified_cycles": heap.verifier.verified_cycles,
            "marked_objects": heap.marked_objects_total,
            "copied_objects": heap.copied_objects,
            "copied_bytes": heap.copied_bytes,
            "promoted_bytes": heap.promoted_bytes,
            "remset_entries": heap.remset_entries,
            "cards_dirtied": heap.cards_dirtied,
            "card_scan_bytes": heap.card_scan_bytes,
            # goroutine stacks (goroutines.pyx): NumGoroutine, and the stack-scan work
            "goroutines": heap.goroutines.live,
            "goroutines_created": heap.goroutines.created,
            "stack_scan_bytes": gcb_load_i64(&heap.goroutines.scan_slots) * 8,
            "stack_scan_pause_bytes": gcb_load_i64(&heap.goroutines.scan_pause_slots) * 8,
        }

    def live_after_full_gc(self):
        """(objects, bytes) in use: after `collect()` these are exactly the reachable ones."""
        cdef int64_t objects
        cdef int64_t nbytes = heap_in_use_exact(self.state, &objects)
        return objects, nbytes

    def start_recording(self):
        """Record every mutator operation from now on (see `recorded_trace`)."""
        if self.state.trace == NULL:
            self.state.trace = <TraceBuffer*>calloc(1, sizeof(TraceBuffer))
            if self.state.trace == NULL:
                raise MemoryError()

    def recorded_trace(self):
        """The recorded operations as a numpy array of TRACE_DTYPE (a copy)."""
        cdef TraceBuffer* buf = self.state.trace
        out = np.empty(0 if buf == NULL else buf.length, dtype=TRACE_DTYPE)
        if buf != NULL and buf.length:
            memcpy(<void*><uintptr_t>out.ctypes.data, buf.records, buf.length * sizeof(TraceRecord))
        return out

    def size_classes(self):
        """[(size, pages per span)] of every small size class."""
        return [(self.state.sizeclass.class_size[c], self.state.sizeclass.class_npages[c]) for c in range(1, self.state.sizeclass.nclasses)]


cdef int run_kernel(ManagedHeap heap, gcb_fn kernel, void* arg) except -1:
    """Run `kernel(arg)` on `heap` with the GIL released; raise HeapError on failure."""
    cdef HeapState* state = heap.state
    cdef int code
    if state.in_run:
        raise RuntimeError("this heap is already running a workload")
    state.error_code = ERR_NONE
    with nogil:
        code = heap_run(state, kernel, arg)
    if code != ERR_NONE:
        heap.check_error()
    return 0
