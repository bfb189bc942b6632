# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""parmark: the parallel stop-the-world marker (contract and algorithm in parmark.pxd).

One collection (parmark_mark, called by heap_collect_stw inside its pause):
  1. marker 0 (the pausing thread) starts the helper threads if they are not running,
     greys every root into its private stack, resets the pool (busy = N, done = 0) and
     wakes the helpers by advancing the epoch;
  2. every marker runs pm_run: drain its stack (prefetch FIFO, atomic mark bits, sharing
     work as it goes), then take a block from the shared list, or spin a while and then
     sleep until one comes, or leave;
  3. the last marker to find itself idle with the list empty declares the mark done;
  4. marker 0 waits until every helper that joined the mark has recorded its figures and
     left it (a helper not yet running when the mark ended skips it: the pause never
     waits for the scheduler to run an idle helper).
Invariant at return: every object reachable from the roots is marked, no grey object is
left anywhere, and the helpers are parked (they touch nothing until the next epoch).
"""
from libc.stdint cimport uint32_t, int64_t
from libc.stdlib cimport calloc, malloc, free, abort
from libc.string cimport memcpy, memmove
from libc.stdio cimport fprintf, stderr
from gcbench_core.pthread cimport (pthread_create, pthread_join, pthread_mutex_init,
                                   pthread_mutex_destroy, pthread_mutex_lock, pthread_mutex_unlock,
                                   pthread_cond_init, pthread_cond_destroy, pthread_cond_wait,
                                   pthread_cond_signal, pthread_cond_broadcast)
from gcbench_core.heap cimport (HeapState, ManagedHeap, MarkStack, MarkFifo, mark_fifo_init, mark_fifo_next, mark_fifo_return, Object, obj_slots, mark_object_atomic,
                                mark_stack_push, mark_stack_free, gcb_thread_cpu_ns,
                                gcb_load_int, gcb_store_int, gcb_load_i64, gcb_store_i64,
                                gcb_unlikely, gcb_now_ns, gcb_cpu_relax, heap_fail, heap_check_interrupt, heap_sigint_pending,
                                ERR_INTERNAL, PREFETCH_MAX, MAX_STACK_SLOTS, goroutine_count_scan)


cdef enum:
    SHARE_EVERY = 64                 # objects scanned between looks at the other markers
    SPIN_NS = 50000                  # an idle marker spins this long before it sleeps
    INTERRUPT_EVERY = 0x10000        # marker 0 looks for Ctrl-C this often


cdef ParMark* parmark_new(HeapState* heap, int nmarkers) noexcept nogil:
    cdef ParMark* pm = <ParMark*>calloc(1, sizeof(ParMark))
    if pm == NULL:
        return NULL
    if nmarkers > MAX_MARKERS:
        nmarkers = MAX_MARKERS
    pm.nmarkers = nmarkers
    pm.heap = heap
    pthread_mutex_init(&pm.lock, NULL)
    pthread_cond_init(&pm.start_cond, NULL)
    pthread_cond_init(&pm.work_cond, NULL)
    pthread_cond_init(&pm.done_cond, NULL)
    return pm


# ---------------------------------------------------------------------------
# The shared list of blocks (every function takes the lock itself unless it says so)

cdef PMBlock* block_get_locked(ParMark* pm) noexcept nogil:
    cdef PMBlock* b = pm.free_blocks
    if b != NULL:
        pm.free_blocks = b.next
        return b
    b = <PMBlock*>malloc(sizeof(PMBlock))
    if b == NULL:
        fprintf(stderr, b"gcbench: out of memory for a grey block\n")
        abort()
    return b

# Move `n` grey objects from the bottom of m's stack (the oldest: nearest the roots, so the
# largest pieces of work) to the shared list, in blocks, and wake waiting markers.
cdef void publish(ParMark* pm, PMMarker* m, int64_t n) noexcept nogil:
    cdef PMBlock* b
    cdef int64_t k, moved = 0
    if n <= 0:
        return
    pthread_mutex_lock(&pm.lock)
    while moved < n:
        k = n - moved
        if k > PM_BLOCK_OBJECTS:
            k = PM_BLOCK_OBJECTS
        b = block_get_locked(pm)
        memcpy(b.items, &m.grey.items[moved], k * sizeof(Object*))
        b.n = k
        b.next = pm.full
        pm.full = b
        moved += k
        m.blocks_published += 1
        gcb_store_i64(&pm.nfull, pm.nfull + 1)
    if pm.nwaiting > 0:
        pthread_cond_broadcast(&pm.work_cond)
    pthread_mutex_unlock(&pm.lock)
    memmove(m.grey.items, &m.grey.items[n], (m.grey.length - n) * sizeof(Object*))
    m.grey.length -= n

# Take one block into m's (empty) stack; the lock is held.
cdef bint take_locked(ParMark* pm, PMMarker* m) noexcept nogil:
    cdef PMBlock* b = pm.full
    cdef int64_t i
    if b == NULL:
        return False
    pm.full = b.next
    gcb_store_i64(&pm.nfull, pm.nfull - 1)
    for i in range(b.n):
        mark_stack_push(&m.grey, b.items[i])
    b.next = pm.free_blocks
    pm.free_blocks = b
    m.blocks_taken += 1
    return True

# Work sharing, looked at every SHARE_EVERY objects: more than two blocks private: publish
# all but one block's worth; otherwise, when a marker waits and the list is empty, publish
# half (Go's gcWork.balance), so that one deep root still spreads over every marker.
cdef inline void share(ParMark* pm, PMMarker* m) noexcept nogil:
    if m.grey.length > 2 * PM_BLOCK_OBJECTS:
        publish(pm, m, m.grey.length - PM_BLOCK_OBJECTS)
    elif (m.grey.length >= 2 and gcb_load_int(&pm.nwaiting) > 0
          and gcb_load_i64(&pm.nfull) == 0):
        publish(pm, m, m.grey.length // 2)


# ---------------------------------------------------------------------------
# One marker

# Scan m's grey objects until its stack is empty (or the pool aborts).  Grey objects pass
# through a small FIFO and are prefetched as they enter it, as in heap_drain.
cdef void drain(HeapState* heap, ParMark* pm, PMMarker* m, bint first) noexcept nogil:
    cdef MarkFifo fifo
    cdef int64_t scanned = 0, objects = 0, nbytes = 0
    cdef uint32_t j, n, size
    cdef Object* obj
    cdef Object* child
    cdef Object** slots
    cdef MarkStack* grey = &m.grey
    mark_fifo_init(&fifo, heap.prefetch_depth)
    while True:
        obj = mark_fifo_next(&fifo, grey)
        if obj == NULL:
            break
        scanned += 1
        n = obj.nslots
        slots = obj_slots(obj)
        for j in range(n):
            child = slots[j]
            if child != NULL:
                size = mark_object_atomic(heap, child)
                if size != 0:
                    objects += 1
                    nbytes += size
                    mark_stack_push(grey, child)
        if gcb_unlikely((scanned & (SHARE_EVERY - 1)) == 0):
            share(pm, m)
            if gcb_unlikely(gcb_load_int(&pm.abort)):
                break
            if (first and (scanned & (INTERRUPT_EVERY - 1)) == 0 and heap.in_run
                    and heap_sigint_pending()):
                gcb_store_int(&pm.abort, 1)    # every marker stops; marker 0 fails the run after
                break
    mark_fifo_return(&fifo, grey)        # (only when aborting is anything left there)
    m.scanned_objects += scanned
    m.marked_objects += objects
    m.marked_bytes += nbytes

# Before sleeping, an idle marker spins a while without the lock for a block or the end
# of the mark (Go's getfull spins with procyield before it parks): a busy marker shares
# within SHARE_EVERY objects of seeing it wait, far sooner than a sleeping thread wakes.
# Called and returns with the lock held; true if something came (then the caller must
# not sleep).
cdef bint spin_for_work(ParMark* pm) noexcept nogil:
    cdef int64_t deadline = gcb_now_ns() + SPIN_NS
    cdef int i
    cdef bint came = False
    pthread_mutex_unlock(&pm.lock)
    while not came and gcb_now_ns() < deadline:
        for i in range(64):
            gcb_cpu_relax()
        came = (gcb_load_i64(&pm.nfull) > 0 or gcb_load_int(&pm.done) or gcb_load_int(&pm.abort))
    pthread_mutex_lock(&pm.lock)
    # decided again under the lock: a block or the end that came between the last look and
    # the lock was announced (broadcast) while this marker did not wait; sleeping now would
    # miss it for ever (the pause would wait on this marker)
    return pm.full != NULL or pm.done or gcb_load_int(&pm.abort)

# A marker's whole part of one collection: drain, take a block or wait for one, until done.
cdef void pm_run(HeapState* heap, ParMark* pm, PMMarker* m, bint first) noexcept nogil:
    cdef int64_t c0 = gcb_thread_cpu_ns()
    cdef bint busy = first               # a helper is busy once it holds a block
    cdef int64_t c1
    while True:
        if not gcb_load_int(&pm.abort):
            c1 = gcb_thread_cpu_ns()
            drain(heap, pm, m, first)
            m.drain_cpu_ns += gcb_thread_cpu_ns() - c1
            m.drain_calls += 1
        pthread_mutex_lock(&pm.lock)
        if gcb_load_int(&pm.abort):
            m.grey.length = 0            # the run fails: drop the work
        while True:
            if pm.done:
                break
            if not gcb_load_int(&pm.abort) and take_locked(pm, m):
                if not busy:
                    busy = True
                    pm.nbusy += 1
                break
            if busy:
                busy = False
                pm.nbusy -= 1
            if pm.nbusy == 0:
                gcb_store_int(&pm.done, 1)   # nobody holds grey work and the list is empty
                pthread_cond_broadcast(&pm.work_cond)
                break
            gcb_store_int(&pm.nwaiting, pm.nwaiting + 1)     # (read without the lock by share)
            if not spin_for_work(pm):
                pthread_cond_wait(&pm.work_cond, &pm.lock)
            gcb_store_int(&pm.nwaiting, pm.nwaiting - 1)
        if pm.done:
            pthread_mutex_unlock(&pm.lock)
            break
        pthread_mutex_unlock(&pm.lock)
    m.cpu_ns = gcb_thread_cpu_ns() - c0

cdef void* helper_main(void* arg) noexcept nogil:
    cdef PMHelperArg* a = <PMHelperArg*>arg
    cdef ParMark* pm = <ParMark*>a.pool
    cdef PMMarker* m = &pm.markers[a.index]
    cdef int64_t seen = a.start_epoch      # the epoch when this thread was created
    pthread_mutex_lock(&pm.lock)
    while True:
        while not pm.stop and pm.epoch == seen:
            pthread_cond_wait(&pm.start_cond, &pm.lock)
        if pm.stop:
            break
        seen = pm.epoch
        if pm.done:
            continue                     # woken late: this mark finished without us
        pm.njoined += 1
        pthread_mutex_unlock(&pm.lock)
        pm_run(pm.heap, pm, m, False)
        pthread_mutex_lock(&pm.lock)
        pm.nleft += 1
        if pm.nleft == pm.njoined:
            pthread_cond_signal(&pm.done_cond)
    pthread_mutex_unlock(&pm.lock)
    return NULL

cdef bint start_threads(HeapState* heap, ParMark* pm) noexcept nogil:
    cdef int i
    while pm.nthreads < pm.nmarkers - 1:
        i = pm.nthreads + 1
        pm.args[i].pool = pm
        pm.args[i].index = i
        pm.args[i].start_epoch = pm.epoch
        if pthread_create(&pm.threads[i], NULL, helper_main, &pm.args[i]) != 0:
            return False
        pm.nthreads += 1
    return True

cdef void parmark_stop_threads(ParMark* pm) noexcept nogil:
    cdef int i
    if pm == NULL or pm.nthreads == 0:
        return
    pthread_mutex_lock(&pm.lock)
    pm.stop = 1
    pthread_cond_broadcast(&pm.start_cond)
    pthread_mutex_unlock(&pm.lock)
    for i in range(1, pm.nthreads + 1):
        pthread_join(pm.threads[i], NULL)
    pm.nthreads = 0
    pm.stop = 0


# ---------------------------------------------------------------------------
# One collection's mark

cdef inline void grey_root(HeapState* heap, PMMarker* m, Object* obj) noexcept nogil:
    cdef uint32_t size
    if obj != NULL:
        size = mark_object_atomic(heap, obj)
        if size != 0:
            m.marked_objects += 1
            m.marked_bytes += size
            mark_stack_push(&m.grey, obj)

cdef int64_t parmark_mark(HeapState* heap, ParMark* pm, int64_t* cpu_ns, int64_t* helper_objects) noexcept nogil:
    cdef int i, t
    cdef int64_t j, total = 0
    cdef PMMarker* m0 = &pm.markers[0]
    cdef PMBlock* b
    if not start_threads(heap, pm):     # (helpers parked, or not yet started: epoch stable)
        parmark_stop_threads(pm)
        heap_fail(heap, ERR_INTERNAL, "parallel marking: cannot start a marker thread")
        cpu_ns[0] = 0
        helper_objects[0] = 0
        return 0
    pthread_mutex_lock(&pm.lock)         # helpers are parked: the pool is ours to reset
    for i in range(pm.nmarkers):
        pm.markers[i].grey.length = 0
        pm.markers[i].marked_objects = 0
        pm.markers[i].marked_bytes = 0
        pm.markers[i].scanned_objects = 0
        pm.markers[i].cpu_ns = 0
        pm.markers[i].blocks_published = 0
        pm.markers[i].blocks_taken = 0
        pm.markers[i].drain_cpu_ns = 0
        pm.markers[i].drain_calls = 0
    while pm.full != NULL:               # left over only by an aborted mark
        b = pm.full
        pm.full = b.next
        b.next = pm.free_blocks
        pm.free_blocks = b
    gcb_store_i64(&pm.nfull, 0)
    gcb_store_int(&pm.nwaiting, 0)
    pm.nbusy = 1                         # marker 0; a helper counts once it takes a block
    gcb_store_int(&pm.done, 1)           # no mark under way until the epoch advances
    gcb_store_int(&pm.abort, 0)
    pm.njoined = 0
    pm.nleft = 0
    pthread_mutex_unlock(&pm.lock)
    # roots: the stack slots, the globals, the extra root ranges (world stopped)
    for i in range(heap.roots.nstack):
        grey_root(heap, m0, heap.roots.stack[i])
    for t in range(heap.mt.count):       # every mutator thread's stack
        for i in range(MAX_STACK_SLOTS):
            grey_root(heap, m0, heap.mt.list[t].stack[i])
    goroutine_count_scan(heap, True, True)    # parked stacks are an extra root range (below)
    for i in range(heap.roots.nglobals):
        grey_root(heap, m0, heap.roots.globals[i])
    for i in range(heap.roots.nextra_roots):
        for j in range(heap.roots.extra_roots[i].count):
            grey_root(heap, m0, heap.roots.extra_roots[i].slots[j])
    pthread_mutex_lock(&pm.lock)
    gcb_store_int(&pm.done, 0)
    pm.epoch += 1
    pthread_cond_broadcast(&pm.start_cond)
    pthread_mutex_unlock(&pm.lock)
    pm_run(heap, pm, m0, True)
    # wait for the helpers that joined this mark to leave it (one not yet woken when the
    # mark ended never joins it: the pause does not wait for the scheduler to run it)
    pthread_mutex_lock(&pm.lock)
    while pm.nleft < pm.njoined:
        pthread_cond_wait(&pm.done_cond, &pm.lock)
    pthread_mutex_unlock(&pm.lock)
    cpu_ns[0] = 0
    helper_objects[0] = 0
    for i in range(pm.nmarkers):
        cpu_ns[0] += pm.markers[i].cpu_ns
        total += pm.markers[i].marked_objects
        if i > 0:
            helper_objects[0] += pm.markers[i].marked_objects
    if gcb_load_int(&pm.abort):
        heap_check_interrupt(heap)       # unwinds inside a run (the flag is still set)
    return total

cdef void parmark_free(ParMark* pm) noexcept nogil:
    cdef PMBlock* b
    cdef int i
    if pm == NULL:
        return
    parmark_stop_threads(pm)
    while pm.full != NULL:
        b = pm.full
        pm.full = b.next
        free(b)
    while pm.free_blocks != NULL:
        b = pm.free_blocks
        pm.free_blocks = b.next
        free(b)
    for i in range(pm.nmarkers):
        mark_stack_free(&pm.markers[i].grey)
    pthread_mutex_destroy(&pm.lock)
    pthread_cond_destroy(&pm.start_cond)
    pthread_cond_destroy(&pm.work_cond)
    pthread_cond_destroy(&pm.done_cond)
    free(pm)


def last_mark(ManagedHeap heap):
    """Per-marker figures of the heap's last parallel stop-the-world mark, as a list of
    dicts (marker 0 is the pausing thread); [] when the heap's plan marks with one marker."""
    cdef ParMark* pm = <ParMark*>heap.state.par_mark
    cdef PMMarker* m
    cdef int i
    out = []
    if pm == NULL:
        return out
    for i in range(pm.nmarkers):
        m = &pm.markers[i]
        out.append({"marked_objects": m.marked_objects, "marked_bytes": m.marked_bytes,
                    "scanned_objects": m.scanned_objects, "cpu_ns": m.cpu_ns,
                    "blocks_published": m.blocks_published, "blocks_taken": m.blocks_taken, "drain_cpu_ns": m.drain_cpu_ns, "drain_calls": m.drain_calls})
    return out


def collect_with(ManagedHeap heap, int markers, int prefetch):
    """A measurement hook (benchmarks/bench_markers.py): one full collection of this heap,
    marked by `markers` markers (1: the serial mark loop, heap_drain; or the heap's own
    count, > 1) with a look-ahead of `prefetch` objects.  Comparing marker counts and
    depths on one heap keeps its layout out of the comparison (two heaps built alike can
    differ by a quarter in mark time, by where their pages landed).  The heap's own
    settings are restored after."""
    cdef HeapState* heap_state = heap.state
    cdef void* own = heap_state.par_mark
    cdef int own_depth = heap_state.prefetch_depth
    if own == NULL and markers != 1:
        raise ValueError("collect_with: this heap marks with one marker")
    if own != NULL and markers not in (1, (<ParMark*>own).nmarkers):
        raise ValueError(f"collect_with: markers must be 1 or {(<ParMark*>own).nmarkers}")
    if prefetch < 1 or prefetch > PREFETCH_MAX or prefetch & (prefetch - 1):
        raise ValueError(f"collect_with: prefetch must be a power of two in [1, {PREFETCH_MAX}]")
    heap_state.prefetch_depth = prefetch
    if markers == 1:
        heap_state.par_mark = NULL
    try:
        heap.collect()
    finally:
        heap_state.par_mark = own
        heap_state.prefetch_depth = own_depth
