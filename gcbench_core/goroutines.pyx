# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""goroutines: the goroutine stacks room, Go's goroutines multiplexed over the mutator.

A goroutine is a stack of K root slots.  The running one's slots are the mutator's stack
slots [window, window + K) (its frame: the workload computes there with the ordinary
mutator operations); the others are parked, their K slots here, in one C range reserved
for `capacity` goroutines that never moves.  go_start takes a goroutine (an exited one's
index first) with an empty stack and runs it; go_park copies the frame into its slots and
clears the frame (Go's gopark); go_resume copies them back (Go's goready + execute);
go_exit clears the frame and frees the goroutine.  The copy is K plain stores: a pointer
switch would make every mutator operation load the frame's address, and K is small.
A park or resume moves references and never changes how many there are, so reference
counting (which counts stack slots) keeps its counts: the stores are plain, never counted.

Stop-the-world plans.  The range (high x K slots, high = indices ever used) is one extra
root range: marksweep, semispace, gencopy, sticky, boehm and tricolor's full collection
mark it in their pause, moving plans rewrite it (heap_visit_roots), the verifier traces
it, and refcount counts its slots as references.  Their pause work grows with M.

Concurrent marking (tricolor).  The plan skips the range in its root scan.  Per cycle,
`gen` advances at mark start (O(1), inside the pause, nothing per goroutine) and
scan_gen[g] == gen says g's stack was scanned this cycle (Go's gcscandone).  A parked
stack cannot change, so markers scan parked stacks concurrently: each takes the next
index below cursor_end (`high` at mark start) and claims it by a compare-and-swap of its
status, PARKED -> PARKED|SCANNING (Go's _Gscan bit); a resume of a goroutine being
scanned waits for the bit to clear (Go's casgstatus loop), for K slots at most.
  The invariant, while marking: every goroutine g with scan_gen[g] == gen has had every
  pointer its stack held since it was last scanned shaded, or it is running (its slots are
  the mutator's stack, which the plan's stack protocol covers); and every parked g with
  scan_gen[g] != gen has not run since mark start (so its slots are its snapshot).
  It holds because:
  * go_start: a new goroutine's stack is empty: born scanned.
  * go_resume of an unscanned g during marking: its slots are shaded on the mutator's
    thread before it runs (the scan at the goroutine's own safepoint), K slots, outside
    any pause.  Required by every barrier: under yuasa and hybrid the mutator's stack is
    black (scanned) and has no barrier, so an unshaded snapshot pointer brought into it
    and stored into a black object would be lost.
  * go_park during marking of an unscanned g (it was running at mark start: the mutator's
    stack had not been scanned, or hybrid had not reached its safepoint): shaded at park.
  * dijkstra: a goroutine that ran is rescanned at park (K slots, its own safepoint):
    its stack had no barrier, and the rescan at mark termination covers only the stack
    that is running then.  yuasa and hybrid need no rescan: what a scanned stack holds is
    in the snapshot (the deletion half keeps it reachable until marked) or was allocated
    black.
  So termination needs every index below cursor_end claimed and no marker holding one
  (the plan's idle test), and the mark termination pause scans only the mutator's stack:
  its goroutine share is the running goroutine's K slots, whatever M is.
Stack-scan work is counted in slots (x 8 = Go's /gc/scan/stack bytes): every parked
stack a pause scans, each concurrent and own-safepoint scan, and the running goroutine's
K whenever the mutator's stack slots are scanned; and apart, the part inside pauses.
"""
from libc.stdint cimport uint32_t, int64_t
from libc.stdlib cimport calloc
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, GoroutineStacks, heap_fail,
                                gcb_store_i64, gcb_cpu_relax, debug_assert, GCB_DEBUG,
                                MAX_STACK_SLOTS, MAX_EXTRA_ROOTS, ERR_INVALID)
from gcbench_core.mutator cimport mut_safepoint, mut_set_stack


cdef int goroutines_open(ManagedHeap heap, int k, int window, int64_t capacity) except -1:
    cdef HeapState* h = heap.state
    cdef GoroutineStacks* gs = &h.goroutines
    if gs.slots != NULL:
        raise RuntimeError("this heap's goroutine stacks room is already open")
    if k < 1 or window < 0 or window + k > MAX_STACK_SLOTS:
        raise ValueError(f"goroutine frame [{window}, {window + k}) is outside the {MAX_STACK_SLOTS} stack slots")
    if capacity < 1:
        raise ValueError("goroutine capacity must be at least 1")
    if h.roots.nextra_roots >= MAX_EXTRA_ROOTS:
        raise RuntimeError(f"no extra root range left (at most {MAX_EXTRA_ROOTS})")
    # calloc of a large range maps zeroed pages on demand: only the goroutines used cost memory
    gs.slots = <Object**>calloc(capacity * k, sizeof(Object*))
    gs.status = <int*>calloc(capacity, sizeof(int))
    gs.scan_gen = <uint32_t*>calloc(capacity, sizeof(uint32_t))
    gs.free_list = <int64_t*>calloc(capacity, sizeof(int64_t))
    if gs.slots == NULL or gs.status == NULL or gs.scan_gen == NULL or gs.free_list == NULL:
        raise MemoryError(f"cannot reserve stacks for {capacity} goroutines of {k} slots")
    gs.capacity = capacity
    gs.k = k
    gs.window = window
    gs.running = -1
    # the parked stacks are roots: one extra root range, high x k slots long
    h.roots.extra_roots[h.roots.nextra_roots].slots = gs.slots
    h.roots.extra_roots[h.roots.nextra_roots].count = 0
    h.roots.nextra_roots += 1
    return 0


cdef inline int64_t* root_count(HeapState* heap) noexcept nogil:
    cdef int i
    for i in range(heap.roots.nextra_roots):
        if heap.roots.extra_roots[i].slots == heap.goroutines.slots:
            return &heap.roots.extra_roots[i].count
    return NULL

cdef inline bint go_check(HeapState* heap, bint want_running) noexcept nogil:
    if heap.trace != NULL:
        heap_fail(heap, ERR_INVALID, "invalid operation: goroutine park and resume cannot be recorded as a trace")
        return False
    if heap.goroutines.slots == NULL or (heap.goroutines.running >= 0) != want_running:
        heap_fail(heap, ERR_INVALID, "invalid operation: goroutine operation out of order "
                  "(no room, or a goroutine is (not) running)")
        return False
    return True

# `go f()`, and f runs at once: a goroutine with an empty stack becomes the running one.
cdef int64_t go_start(HeapState* heap) noexcept nogil:
    cdef GoroutineStacks* gs = &heap.goroutines
    cdef int64_t g
    cdef int64_t* count
    cdef int i
    if not go_check(heap, False):
        return -1
    if GCB_DEBUG:
        for i in range(gs.k):
            debug_assert(heap, heap.roots.stack[gs.window + i] == NULL, "go_start: the goroutine frame is not empty")
    if gs.nfree > 0:
        gs.nfree -= 1
        g = gs.free_list[gs.nfree]
    elif gs.high < gs.capacity:
        g = gs.high
        gs.high += 1
        count = root_count(heap)
        if count != NULL:
            gcb_store_i64(count, gs.high * gs.k)
    else:
        heap_fail(heap, ERR_INVALID, "invalid operation: more goroutines than the room was opened for")
        return -1
    gcb_store_gen(&gs.scan_gen[g], gs.gen)       # an empty stack: scanned in any cycle
    gcb_store_status(&gs.status[g], G_RUNNING)
    gs.running = g
    gs.live += 1
    gs.created += 1
    mut_safepoint(heap)
    return g

# gopark: the running goroutine's frame goes into its parked slots (see the invariant).
cdef void go_park(HeapState* heap) noexcept nogil:
    cdef GoroutineStacks* gs = &heap.goroutines
    cdef int64_t g = gs.running
    cdef Object** frame = &heap.roots.stack[gs.window]
    cdef Object** parked
    cdef int i
    if not go_check(heap, True):
        return
    parked = gs.slots + g * gs.k
    if gs.marking and (gs.rescan_on_park or gcb_load_gen(&gs.scan_gen[g]) != gs.gen):
        gs.scan_on_mutator(heap, frame, gs.k)      # its own safepoint
        gcb_store_gen(&gs.scan_gen[g], gs.gen)
        gcb_fetch_add_i64(&gs.scan_slots, gs.k)
    for i in range(gs.k):
        parked[i] = frame[i]
        frame[i] = NULL
    gcb_store_status(&gs.status[g], G_PARKED)      # a marker may claim it from here on
    gs.running = -1
    gs.parks += 1
    mut_safepoint(heap)

# goready + execute: parked goroutine g runs again, its slots back in the frame.
cdef void go_resume(HeapState* heap, int64_t g) noexcept nogil:
    cdef GoroutineStacks* gs = &heap.goroutines
    cdef Object** frame = &heap.roots.stack[gs.window]
    cdef Object** parked
    cdef int i
    if not go_check(heap, False):
        return
    if g < 0 or g >= gs.high or (gcb_load_status(&gs.status[g]) & ~G_SCANNING) != G_PARKED:
        heap_fail(heap, ERR_INVALID, "invalid operation: resume of a goroutine that is not parked")
        return
    while not gcb_cas_status(&gs.status[g], G_PARKED, G_RUNNING):
        gcb_cpu_relax()                            # a marker is scanning it: K slots at most
    parked = gs.slots + g * gs.k
    if gs.marking and gcb_load_gen(&gs.scan_gen[g]) != gs.gen:
        gs.scan_on_mutator(heap, parked, gs.k)     # scanned at its own safepoint, before it runs
        gcb_store_gen(&gs.scan_gen[g], gs.gen)
        gcb_fetch_add_i64(&gs.scan_slots, gs.k)
    for i in range(gs.k):
        if GCB_DEBUG:
            debug_assert(heap, frame[i] == NULL, "go_resume: the goroutine frame is not empty")
        frame[i] = parked[i]
        parked[i] = NULL
    gs.running = g
    gs.resumes += 1
    mut_safepoint(heap)

# The running goroutine returns: what its frame still holds is dropped (counted stores,
# so reference counting frees it), and its index is reused by a later go_start.
cdef void go_exit(HeapState* heap) noexcept nogil:
    cdef GoroutineStacks* gs = &heap.goroutines
    cdef int64_t g = gs.running
    cdef int i
    if not go_check(heap, True):
        return
    for i in range(gs.k):
        if heap.roots.stack[gs.window + i] != NULL:
            mut_set_stack(heap, gs.window + i, NULL)
    gcb_store_status(&gs.status[g], G_FREE)
    gs.free_list[gs.nfree] = g
    gs.nfree += 1
    gs.running = -1
    gs.live -= 1
    gs.exited += 1
    mut_safepoint(heap)


def goroutine_counts(ManagedHeap heap):
    """(live, created, exited, parks, resumes) of the heap's goroutine stacks room."""
    cdef GoroutineStacks* gs = &heap.state.goroutines
    return gs.live, gs.created, gs.exited, gs.parks, gs.resumes
