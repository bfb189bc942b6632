# cython: language_level=3
#
# goroutines.pxd: the goroutine stacks room (the struct, GoroutineStacks, is in heap.pxd;
# the algorithm and its invariant are at the top of goroutines.pyx).  A workload opens the
# room (goroutines_open, with the GIL), then starts, parks, resumes and ends goroutines
# (go_start / go_park / go_resume / go_exit, nogil mutator operations).  A concurrent
# marker claims a parked goroutine's stack with goroutine_claim and gives it back with
# goroutine_release (inline here: the marker's loop is the plan's own).

from libc.stdint cimport uint32_t, int64_t
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, GoroutineStacks,
                                G_FREE, G_RUNNING, G_PARKED, G_SCANNING, gcb_fetch_add_i64,
                                gcb_load_i64)

cdef extern from "goroutines.h" nogil:
    bint gcb_cas_status(int* p, int expected, int desired)
    int gcb_load_status(const int* p)
    void gcb_store_status(int* p, int v)
    uint32_t gcb_load_gen(const uint32_t* p)
    void gcb_store_gen(uint32_t* p, uint32_t v)

cdef int goroutines_open(ManagedHeap heap, int k, int window, int64_t capacity) except -1
cdef int64_t go_start(HeapState* heap) noexcept nogil
cdef void go_park(HeapState* heap) noexcept nogil
cdef void go_resume(HeapState* heap, int64_t g) noexcept nogil
cdef void go_exit(HeapState* heap) noexcept nogil

# A marker takes goroutine g's parked stack to scan it: true when g is parked and not yet
# scanned this cycle, and this call set G_SCANNING (its resume then waits until release).
cdef inline bint goroutine_claim(GoroutineStacks* gs, int64_t g) noexcept nogil:
    if gcb_load_gen(&gs.scan_gen[g]) == gs.gen:
        return False
    if not gcb_cas_status(&gs.status[g], G_PARKED, G_PARKED | G_SCANNING):
        return False                 # free, running (scanned at its own safepoint) or taken
    if gcb_load_gen(&gs.scan_gen[g]) == gs.gen:
        gcb_store_status(&gs.status[g], G_PARKED)   # it ran, and parked scanned, meanwhile
        return False
    return True

# The marker has shaded every slot of g's stack: scanned this cycle, parked again.
cdef inline void goroutine_release(GoroutineStacks* gs, int64_t g, bint in_pause) noexcept nogil:
    gcb_store_gen(&gs.scan_gen[g], gs.gen)
    gcb_fetch_add_i64(&gs.scan_slots, gs.k)
    if in_pause:
        gcb_fetch_add_i64(&gs.scan_pause_slots, gs.k)
    gcb_store_status(&gs.status[g], G_PARKED)

# Parked goroutines a concurrent marker has not claimed yet this cycle.
cdef inline bint goroutines_pending(GoroutineStacks* gs) noexcept nogil:
    return gs.slots != NULL and gcb_load_i64(&gs.cursor) < gs.cursor_end
