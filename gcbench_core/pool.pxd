# cython: language_level=3
#
# pool.pxd: a sync.Pool-style free list (Go 1.13+ semantics); see pool.pyx for the
# algorithm and for when a pool helps.  Workloads use pool_create / pool_get / pool_put
# / pool_destroy; the fast paths (the worker's private slot) are inline here, the rest
# (shared queues, stealing, the victim cache, New, cleanup) is in pool.pyx.
#
# Objects move between the mutator's stack slots and the pool's slots: pool_get puts
# the object into stack[r], pool_put takes it from stack[r] (and leaves stack[r] as it
# is: the caller clears it when it drops its reference, as a Go caller's variable).

from libc.stdint cimport uint32_t, int64_t
from gcbench_core.heap cimport HeapState, ManagedHeap, Object
from gcbench_core.mutator cimport heap_write, mut_tick

# Where a Get found its object (Pool.last_source; the statistics count the same).
cdef enum:
    POOL_FROM_PRIVATE = 0
    POOL_FROM_SHARED = 1             # head of the worker's own shared queue
    POOL_FROM_STOLEN = 2             # tail of another worker's shared queue
    POOL_FROM_VICTIM = 3             # the victim cache (private or a shared queue)
    POOL_FROM_NEW = 4                # a miss: New allocated a fresh object

ctypedef struct PoolStats:
    int64_t gets
    int64_t puts
    int64_t hits_private
    int64_t hits_shared
    int64_t hits_stolen
    int64_t hits_victim
    int64_t misses                   # New called
    int64_t dropped                  # objects in the victim cache when a cleanup dropped it
    int64_t overflowed               # Puts refused because the worker's shared ring was full

# One worker's cache (Go's poolLocal): a private slot and a shared deque, a ring of
# `capacity` slots holding `count` objects from `tail` (oldest) towards the head.
ctypedef struct PoolLocal:
    Object** private_slot
    Object** ring
    int64_t tail
    int64_t count

ctypedef struct Pool:
    HeapState* heap
    int nworkers
    int64_t capacity                 # slots of each shared ring
    uint32_t new_slots               # what New allocates: pointer slots and payload bytes
    uint32_t new_payload
    Object** slots                   # 2 halves (primary, victim) x nworkers x (1 + capacity)
    int64_t nslots_total
    PoolLocal* local                 # primary cache, one per worker
    PoolLocal* victim                # victim cache, one per worker
    int victim_live                  # Go's victimSize != 0: Get may still look in the victim
    int last_source                  # POOL_FROM_* of the last Get
    PoolStats stats
    Pool* next                       # the heap's other pools (Go's allPools)

cdef Pool* pool_create(HeapState* heap, int nworkers, int64_t capacity,
                       uint32_t new_slots, uint32_t new_payload) noexcept nogil
cdef void pool_destroy(Pool* pool) noexcept nogil
cdef Object* pool_get_slow(Pool* pool, int worker) noexcept nogil
cdef void pool_put_slow(Pool* pool, int worker, Object* x) noexcept nogil
cdef void pool_cleanup(Pool* pool) noexcept nogil
# With the GIL, for a workload's run(): create with Python errors; the statistics dict.
cdef Pool* pool_new(ManagedHeap heap, int nworkers, int64_t capacity,
                    uint32_t new_slots, uint32_t new_payload) except NULL
cdef dict pool_stats(Pool* pool)

# Get: stack[r] := an object from the pool, or a fresh one (New).  Go's Get: the
# private slot first; everything else is the slow path.
cdef inline Object* pool_get(Pool* pool, int worker, int r) noexcept nogil:
    cdef PoolLocal* l = &pool.local[worker]
    cdef Object* x = l.private_slot[0]
    pool.stats.gets += 1
    if x != NULL:
        heap_write(pool.heap, l.private_slot, NULL)
        pool.stats.hits_private += 1
        pool.last_source = POOL_FROM_PRIVATE
    else:
        x = pool_get_slow(pool, worker)
    pool.heap.roots.stack[r] = x
    mut_tick(pool.heap)
    return x

# Put: stack[r] goes into the pool: the private slot if it is empty, else the head of
# the worker's shared queue.
cdef inline void pool_put(Pool* pool, int worker, int r) noexcept nogil:
    cdef PoolLocal* l = &pool.local[worker]
    cdef Object* x = pool.heap.roots.stack[r]
    if x == NULL:
        return                       # Go: Put(nil) is a no-op
    pool.stats.puts += 1
    if l.private_slot[0] == NULL:
        heap_write(pool.heap, l.private_slot, x)
    else:
        pool_put_slow(pool, worker, x)
    mut_tick(pool.heap)
