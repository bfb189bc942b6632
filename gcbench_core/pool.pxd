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
#
# Mutator threads (heap.pxd MutatorThread): pool_get_mt / pool_put_mt are the same
# operations over the thread's own stack slots, with the thread's barrier (mt_heap_write:
# its grey buffer) and its allocation cache for New.  A thread uses one P (worker) of its
# own, as Go pins a goroutine to its P during Get/Put: only that thread touches the P's
# private slot and counters and pushes or pops at the head of its deque; any thread pops
# at a deque's tail (the lock-free poolDequeue of pool.pyx).

from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, MutatorThread
from gcbench_core.mutator cimport heap_write, mut_tick, mt_heap_write, mt_tick

# The deque's 64-bit atomics (headTail): acquire load, compare-and-swap, release add.
cdef extern from *:
    """
    #ifndef GCB_POOL_ATOMICS
    #define GCB_POOL_ATOMICS
    #include <stdint.h>
    static inline uint64_t pool_load_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline int pool_cas_u64(uint64_t *p, uint64_t expected, uint64_t v) {
        return __atomic_compare_exchange_n(p, &expected, v, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE); }
    static inline void pool_add_u64(uint64_t *p, uint64_t v) { __atomic_add_fetch(p, v, __ATOMIC_RELEASE); }
    #endif
    """
    uint64_t pool_load_u64(const uint64_t* p) noexcept nogil
    bint pool_cas_u64(uint64_t* p, uint64_t expected, uint64_t v) noexcept nogil
    void pool_add_u64(uint64_t* p, uint64_t v) noexcept nogil

# Where a Get found its object (PoolP.last_source; the statistics count the same).
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

# One worker's cache (Go's poolLocal): a private slot and a shared deque (Go's
# poolDequeue), a ring of `ring_size` slots (a power of two) holding the objects at
# counters tail .. head-1 (slot index: counter & ring_mask), at most `capacity` of them.
# head_tail packs both 32-bit counters in one word (head << 32 | tail), changed
# atomically; padded to a cache line so that Ps do not share one.
ctypedef struct PoolLocal:
    Object** private_slot
    Object** ring
    uint64_t head_tail
    char pad[40]

# One P's statistics and last Get source, touched only by its owner (its own cache line):
# no shared counter to contend on; pool_stats sums them.
ctypedef struct PoolP:
    PoolStats stats
    int last_source                  # POOL_FROM_* of this P's last Get
    char pad[52]

ctypedef struct Pool:
    HeapState* heap
    int nworkers
    int64_t capacity                 # objects each shared ring holds at most
    uint32_t ring_size               # slots of each ring: capacity rounded up to a power of 2
    uint32_t ring_mask
    uint32_t new_slots               # what New allocates: pointer slots and payload bytes
    uint32_t new_payload
    Object** slots                   # 2 halves (primary, victim) x nworkers x (1 + ring_size)
    int64_t nslots_total
    PoolLocal* local                 # primary cache, one per worker
    PoolLocal* victim                # victim cache, one per worker
    int victim_live                  # atomic; Go's victimSize != 0: Get may still look in the victim
    PoolP* per_p                     # one per worker
    Pool* next                       # the heap's other pools (Go's allPools)

cdef Pool* pool_create(HeapState* heap, int nworkers, int64_t capacity,
                       uint32_t new_slots, uint32_t new_payload) noexcept nogil
cdef void pool_destroy(Pool* pool) noexcept nogil
# m: the calling mutator thread, or NULL for the run's own thread (mutator 0)
cdef Object* pool_get_slow(Pool* pool, MutatorThread* m, int worker) noexcept nogil
cdef bint pool_put_slow(Pool* pool, MutatorThread* m, int worker, Object* x) noexcept nogil
cdef void pool_cleanup(Pool* pool) noexcept nogil
# With the GIL, for a workload's run(): create with Python errors; the statistics dict.
cdef Pool* pool_new(ManagedHeap heap, int nworkers, int64_t capacity,
                    uint32_t new_slots, uint32_t new_payload) except NULL
cdef dict pool_stats(Pool* pool)

# A store into a pool slot, through the barrier of the thread that makes it.
cdef inline void pool_write(Pool* pool, MutatorThread* m, Object** slot, Object* x) noexcept nogil:
    if m == NULL:
        heap_write(pool.heap, slot, x)
    else:
        mt_heap_write(m, slot, x)

# Go's Get: the private slot first; everything else is the slow path.
cdef inline Object* pool_take(Pool* pool, MutatorThread* m, int worker) noexcept nogil:
    cdef PoolLocal* l = &pool.local[worker]
    cdef PoolP* p = &pool.per_p[worker]
    cdef Object* x = l.private_slot[0]
    p.stats.gets += 1
    if x != NULL:
        pool_write(pool, m, l.private_slot, NULL)
        p.stats.hits_private += 1
        p.last_source = POOL_FROM_PRIVATE
    else:
        x = pool_get_slow(pool, m, worker)
    return x

# Go's Put: the private slot if it is empty, else the head of the worker's shared queue.
# False: the object was refused (a full ring; counted in `overflowed`).
cdef inline bint pool_give(Pool* pool, MutatorThread* m, int worker, Object* x) noexcept nogil:
    cdef PoolLocal* l = &pool.local[worker]
    pool.per_p[worker].stats.puts += 1
    if l.private_slot[0] == NULL:
        pool_write(pool, m, l.private_slot, x)
        return True
    return pool_put_slow(pool, m, worker, x)

# Get: stack[r] := an object from the pool, or a fresh one (New).
cdef inline Object* pool_get(Pool* pool, int worker, int r) noexcept nogil:
    cdef Object* x = pool_take(pool, NULL, worker)
    pool.heap.roots.stack[r] = x
    mut_tick(pool.heap)
    return x

# Put: stack[r] goes into the pool (Put(nil) is a no-op); True if the pool kept it.
cdef inline bint pool_put(Pool* pool, int worker, int r) noexcept nogil:
    cdef Object* x = pool.heap.roots.stack[r]
    cdef bint kept
    if x == NULL:
        return False
    kept = pool_give(pool, NULL, worker, x)
    mut_tick(pool.heap)
    return kept

# The same on mutator thread m, with its own P `worker` (one P per thread).
cdef inline Object* pool_get_mt(Pool* pool, MutatorThread* m, int worker, int r) noexcept nogil:
    cdef Object* x = pool_take(pool, m, worker)
    m.stack[r] = x
    mt_tick(m)
    return x

cdef inline bint pool_put_mt(Pool* pool, MutatorThread* m, int worker, int r) noexcept nogil:
    cdef Object* x = m.stack[r]
    cdef bint kept
    if x == NULL:
        return False
    kept = pool_give(pool, m, worker, x)
    mt_tick(m)
    return kept
