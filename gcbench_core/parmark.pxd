# cython: language_level=3
#
# parmark.pxd: the parallel stop-the-world marker (Whippet's parallel tracer, Go's gcWork
# and work.full), used by heap_collect_stw when a plan asks for markers=N > 1.
#
# N markers: the pausing thread (marker 0) and N-1 helper pthreads, started at the heap's
# first parallel collection and parked on a condition variable between collections (never
# created per pause).  Each marker drains a private grey stack with atomic mark bits
# (mark_object_atomic: the marker that sets a bit owns the object and scans it once).  A
# marker publishes grey objects to the shared list of blocks when its stack holds more than
# two blocks, or half of it when another marker waits and the list is empty (Go's
# gcWork.balance: a single deep root spreads this way); an idle marker takes a block.
# Termination: under the pool's mutex, a marker whose stack is empty and that finds no
# block leaves the busy count (marker 0 starts in it; a helper enters it when it takes a
# block); the last one to leave with the list empty declares the mark done and wakes the
# others.  No work is lost: grey objects are only in busy markers'
# stacks or in the list, and `done` is decided under the lock that guards both the list
# and the busy count.
#
# The list is a mutex-protected LIFO of 254-object blocks, not a lock-free stack: the
# lock is taken once per block (hundreds of objects), so it is never contended enough to
# matter, and a lock-free Treiber stack of reused blocks would need ABA protection
# (tagged pointers or hazard pointers) for no measurable gain; the mutex also gives the
# idle markers a condition variable to sleep on.  An idle marker first spins (50 us) for a
# block or the end, then sleeps: a sleeping thread's wake-up takes longer than a busy
# marker takes to share.

from libc.stdint cimport int64_t
from gcbench_core.heap cimport HeapState, MarkStack, Object

from gcbench_core.pthread cimport pthread_t, pthread_mutex_t, pthread_cond_t

cdef enum:
    MAX_MARKERS = 64
    PM_BLOCK_OBJECTS = 254           # grey objects per shared block (a block is 2 KiB)

ctypedef struct PMBlock:
    PMBlock* next
    int64_t n
    Object* items[PM_BLOCK_OBJECTS]

# One marker's private state; padded so that two markers' hot fields never share a line.
ctypedef struct PMMarker:
    char pad0[64]
    MarkStack grey                   # private grey objects (LIFO)
    int64_t marked_objects           # objects this marker shaded (set the mark bit of)
    int64_t marked_bytes             # their size-class bytes
    int64_t scanned_objects
    int64_t cpu_ns                   # thread CPU time of this marker in the last mark
    int64_t blocks_published
    int64_t blocks_taken
    int64_t drain_cpu_ns             # of cpu_ns, the part spent draining (the rest: taking,
    int64_t drain_calls              # sharing, spinning and waiting for work)
    char pad1[64]

ctypedef struct PMHelperArg:
    void* pool
    int index
    int64_t start_epoch              # pool.epoch when the thread was created

ctypedef struct ParMark:
    int nmarkers
    HeapState* heap
    pthread_mutex_t lock                  # guards every field down to `stop`
    pthread_cond_t start_cond             # helpers wait here for the next collection (epoch)
    pthread_cond_t work_cond              # idle markers wait here for a block or for `done`
    pthread_cond_t done_cond              # the pausing thread waits here for the helpers
    PMBlock* full                    # published grey blocks (LIFO)
    PMBlock* free_blocks
    int64_t nfull                    # also read without the lock (atomically), as a hint
    int nwaiting                     # markers waiting for work; read atomically as a hint
    int nbusy                        # markers that may still hold grey objects
    int done                         # the mark is complete (or aborted)
    int abort                        # Ctrl-C: stop marking (read atomically)
    int64_t epoch                    # collections started
    int njoined                      # helpers that joined this mark (it was not done yet)
    int nleft                        # of those, helpers that left it
    int stop                         # helpers exit
    int nthreads                     # helper threads running
    pthread_t threads[MAX_MARKERS]
    PMHelperArg args[MAX_MARKERS]
    PMMarker markers[MAX_MARKERS]

# A pool of `nmarkers` markers for `heap` (threads start at the first parmark_mark);
# NULL when out of memory.
cdef ParMark* parmark_new(HeapState* heap, int nmarkers) noexcept nogil
# Grey every root and mark everything reachable with every marker; the calling thread
# is marker 0 and returns when the mark is complete.  Returns the objects marked; the
# summed thread CPU of the markers into *cpu_ns, objects marked by markers 1..N-1 into
# *helper_objects.  Fails the run (heap_fail) if a helper thread cannot start, or when
# interrupted.
cdef int64_t parmark_mark(HeapState* heap, ParMark* pm, int64_t* cpu_ns, int64_t* helper_objects) noexcept nogil
# Stop and join the helper threads (they restart at the next parmark_mark).
cdef void parmark_stop_threads(ParMark* pm) noexcept nogil
# Stop the threads and free the pool.
cdef void parmark_free(ParMark* pm) noexcept nogil
