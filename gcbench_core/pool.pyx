# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""pool: a sync.Pool-style free list with Go 1.13+ semantics (Go's src/sync/pool.go).

When a pool helps.  A pool caches objects that are allocated per operation and dropped
at its end (a request's buffer, an encoder's scratch space), so that the next operation
reuses one instead of allocating.  Fewer allocated bytes means the heap reaches its goal
less often: fewer collections, fewer pauses, less sweeping, and no zeroing of fresh
memory.  It pays when such objects are large or numerous, taken and given back at a high
rate by many independent clients, and all alike (any one serves any client).
When it does not.  A pool is a cache, not a free list you own: every collection moves
its contents to the victim cache and the next one drops them, so it cannot hold objects
that must persist (connections, anything that needs closing), and after an idle period
the first Gets miss.  It does not help objects that live long anyway, objects of very
different sizes (a small request gets a huge buffer, or the pool pins memory the heap
would reclaim), or a free list private to one short-lived object, where the bookkeeping
does not amortize.  An object still referenced elsewhere after its Put is a use-after-
reuse bug that the collector cannot catch.

Structure.  Per worker (Go's P) a `private` slot and a `shared` deque (the owner pushes
and pops at the head, other workers steal from the tail), plus a `victim` copy of both.
The deque is Go's poolDequeue (src/sync/poolqueue.go), lock-free (see "The shared
deque" below), so that Ps on different mutator threads (pool_get_mt / pool_put_mt, one
P per thread) steal from each other; the private slot is touched only by its owner.
  Put(x):  private if it is empty, else the head of the own shared deque.
  Get():   own private; head of own shared; steal from the tail of each worker's shared
           deque, starting at the next worker and wrapping around (w+1, ..., w); the own
           victim private; the tail of each victim shared deque, starting at the own
           worker (w, w+1, ...); New.  When even the victim cache had nothing, it is
           marked empty (Go stores victimSize = 0) and later Gets skip it until the next
           cleanup: objects left in other workers' victim private slots stay held, but
           unreachable for Get, and are dropped by that cleanup.
  Cleanup, at the start of every collection, inside its stop-the-world part (the heap's
           cycle_start_hook, run before the roots are marked): drop the victim cache
           (its objects are no longer roots and die in this collection unless referenced
           elsewhere) and make the primary cache the victim, leaving an empty primary.
           So an object put and never taken again survives exactly one collection, in
           the victim cache, and is freed by the second.

Invariant: an object held by a pool is reachable for the collector.  Both caches live
in one C array of Object* registered as an extra root range (heap.roots.extra_roots), which
heap_mark_roots and the verifier scan like the globals; every mutator store into it goes
through heap_write (the write barrier, as for globals), so a concurrent marker sees an
object that moves between the pool and the mutator's stack slots.  The cleanup writes
with plain stores: the world is stopped and the roots have not been marked yet, and a
deletion barrier would otherwise shade the dropped victims and keep them alive.

Deviation from Go: a shared deque is one ring of fixed `capacity` (Go's poolChain chains
rings of growing size without bound), so that the root range never moves under a
concurrent marker; a Put into a full ring drops the object (counted in `overflowed`).
The ring has `capacity` rounded up to a power of two slots (the counters wrap at 2^32).
Statistics are per P (PoolP, one cache line each, written only by the P's owner) and
summed when read.  On the run's own thread (pool_get / pool_put) workers are interleaved
as before and every figure is unchanged: the atomics there are uncontended.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t, uintptr_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, heap_alloc, obj_slots, gcb_store_ptr,
                                gcb_load_ptr, gcb_load_int, gcb_store_int, MutatorThread,
                                mt_heap_alloc, MAX_EXTRA_ROOTS, MAX_STACK_SLOTS, heap_hook)
from gcbench_core.mutator cimport heap_write

SOURCE_NAMES = ("private", "shared", "stolen", "victim", "new")
STAT_KEYS = ("gets", "puts", "hits_private", "hits_shared", "hits_stolen", "hits_victim",
             "misses", "dropped", "overflowed")
# Largest ring capacity: rounded up to a power of two, its counters' difference fits 32 bits.
cdef int64_t MAX_RING = 1 << 30


# ---------------------------------------------------------------------------
# The shared deque (Go's poolDequeue): lock-free, one producer (the owner) at the head,
# consumers at both ends (the owner at the head, any thread at the tail).
#
# head_tail = head << 32 | tail (32-bit counters that wrap; the slot of counter c is
# ring[c & ring_mask]).  A claim is a CAS of the whole word, so the owner's pop at the head
# and a thief's pop at the tail cannot both take the last object.  The owner publishes a
# push by adding 1 << 32 (release) after storing the slot, so a thief that sees the new
# head (acquire) sees the object.  A thief clears the slot it claimed only after its CAS,
# and the owner pushes into a slot only when it is NULL: until the thief has cleared it,
# the ring counts as full (Go's "the slot is free again only when the popper has cleared
# it").  Every slot store goes through the storing thread's write barrier.

cdef inline uint64_t pack(uint32_t head, uint32_t tail) noexcept nogil:
    return (<uint64_t>head << 32) | tail

cdef inline bint deque_push_head(Pool* pool, MutatorThread* m, PoolLocal* l, Object* x) noexcept nogil:
    cdef uint64_t ht = pool_load_u64(&l.head_tail)
    cdef uint32_t head = <uint32_t>(ht >> 32)
    cdef uint32_t tail = <uint32_t>ht
    cdef Object** slot
    if <uint32_t>(head - tail) >= <uint64_t>pool.capacity:
        return False
    slot = &l.ring[head & pool.ring_mask]
    if gcb_load_ptr(<void**>slot) != NULL:
        return False                 # a thief claimed it and has not cleared it yet
    pool_write(pool, m, slot, x)
    pool_add_u64(&l.head_tail, (<uint64_t>1) << 32)
    return True

# Pop at the head (the owner: Go's popHead) or at the tail (a thief: popTail).  Claiming
# the slot is one CAS of head_tail; the slot is cleared after (release: the owner may push
# into it again only once it reads NULL).
cdef inline Object* deque_pop(Pool* pool, MutatorThread* m, PoolLocal* l, bint at_head) noexcept nogil:
    cdef uint64_t ht
    cdef uint32_t head, tail, index
    cdef Object** slot
    cdef Object* x
    while True:
        ht = pool_load_u64(&l.head_tail)
        head = <uint32_t>(ht >> 32)
        tail = <uint32_t>ht
        if head == tail:
            return NULL
        if at_head:
            index = head - 1
            if pool_cas_u64(&l.head_tail, ht, pack(index, tail)):
                break
        else:
            index = tail
            if pool_cas_u64(&l.head_tail, ht, pack(head, tail + 1)):
                break
    slot = &l.ring[index & pool.ring_mask]
    x = <Object*>gcb_load_ptr(<void**>slot)
    pool_write(pool, m, slot, NULL)
    return x

cdef inline int64_t deque_count(PoolLocal* l) noexcept nogil:
    cdef uint64_t ht = pool_load_u64(&l.head_tail)
    return <uint32_t>(<uint32_t>(ht >> 32) - <uint32_t>ht)


# ---------------------------------------------------------------------------
# Get and Put slow paths (the private-slot fast paths are inline in pool.pxd)

cdef Object* pool_get_slow(Pool* pool, MutatorThread* m, int worker) noexcept nogil:
    cdef int n = pool.nworkers
    cdef int i
    cdef Object* x
    cdef PoolLocal* v
    cdef PoolP* p = &pool.per_p[worker]
    x = deque_pop(pool, m, &pool.local[worker], True)
    if x != NULL:
        p.stats.hits_shared += 1
        p.last_source = POOL_FROM_SHARED
        return x
    # Go's getSlow: steal from the tail, starting at the next worker; the loop ends on
    # the own deque, which is empty by now.
    for i in range(n):
        x = deque_pop(pool, m, &pool.local[(worker + i + 1) % n], False)
        if x != NULL:
            p.stats.hits_stolen += 1
            p.last_source = POOL_FROM_STOLEN
            return x
    if gcb_load_int(&pool.victim_live):
        v = &pool.victim[worker]
        x = v.private_slot[0]
        if x != NULL:
            pool_write(pool, m, v.private_slot, NULL)
            p.stats.hits_victim += 1
            p.last_source = POOL_FROM_VICTIM
            return x
        for i in range(n):
            x = deque_pop(pool, m, &pool.victim[(worker + i) % n], False)
            if x != NULL:
                p.stats.hits_victim += 1
                p.last_source = POOL_FROM_VICTIM
                return x
        gcb_store_int(&pool.victim_live, 0)
    # New.  The allocation runs the collector's allocation hook (or the thread's slow
    # path) before it allocates, so a collection here (and its cleanup) never sees the
    # new object unreachable.
    p.stats.misses += 1
    p.last_source = POOL_FROM_NEW
    if m == NULL:
        return heap_alloc(pool.heap, pool.new_slots, pool.new_payload)
    return mt_heap_alloc(m, pool.new_slots, pool.new_payload)

cdef bint pool_put_slow(Pool* pool, MutatorThread* m, int worker, Object* x) noexcept nogil:
    if not deque_push_head(pool, m, &pool.local[worker], x):
        pool.per_p[worker].stats.overflowed += 1
        return False
    return True


# ---------------------------------------------------------------------------
# Cleanup (Go's poolCleanup), run by the collector inside the cycle's first pause.
#
# Plain stores are safe here although the deques are lock-free: the cycle-start hook runs
# with the world stopped, every mutator thread parked at a safepoint (or blocked outside
# the heap, where it touches no pool), and a safepoint is never inside a pool operation,
# so no CAS is half done and no claimed slot is waiting to be cleared.  The stop and the
# restart are a handshake under the heap's mutex (heap.pyx), which orders these stores
# before and after every thread's own pool operations (happens-before), as Go's
# poolCleanup relies on the world being stopped.

cdef void pool_cleanup(Pool* pool) noexcept nogil:
    cdef int w
    cdef uint32_t k, head, tail
    cdef PoolLocal* v
    cdef PoolLocal* swap
    for w in range(pool.nworkers):
        v = &pool.victim[w]
        if v.private_slot[0] != NULL:
            gcb_store_ptr(<void**>v.private_slot, NULL)
            pool.per_p[w].stats.dropped += 1
        head = <uint32_t>(v.head_tail >> 32)
        tail = <uint32_t>v.head_tail
        k = tail
        while k != head:
            gcb_store_ptr(<void**>&v.ring[k & pool.ring_mask], NULL)
            pool.per_p[w].stats.dropped += 1
            k += 1
        v.head_tail = 0
    # the primary becomes the victim; the emptied victim half becomes the new primary
    swap = pool.local
    pool.local = pool.victim
    pool.victim = swap
    pool.victim_live = 1

# The heap's cycle-start hook while pools are attached: clean every pool of the heap.
cdef void pool_cleanup_all(HeapState* heap) noexcept nogil:
    cdef Pool* pool = <Pool*>heap.cycle_start_arg
    while pool != NULL:
        pool_cleanup(pool)
        pool = pool.next


# ---------------------------------------------------------------------------
# Creation and destruction (with the GIL: they validate and raise)

cdef Pool* pool_create(HeapState* heap, int nworkers, int64_t capacity,
                       uint32_t new_slots, uint32_t new_payload) noexcept nogil:
    """A pool on `heap`, or NULL (no memory, no free extra-root entry, or another
    cycle-start hook is installed)."""
    cdef Pool* pool
    cdef int half, w
    cdef Object** base
    cdef PoolLocal* locals_
    cdef uint32_t ring_size = 1
    if nworkers < 1 or capacity < 1 or capacity > MAX_RING or heap.roots.nextra_roots >= MAX_EXTRA_ROOTS:
        return NULL
    while ring_size < capacity:
        ring_size <<= 1
    if heap.cycle_start_hook != NULL and heap.cycle_start_hook != <heap_hook>pool_cleanup_all:
        return NULL
    pool = <Pool*>calloc(1, sizeof(Pool))
    if pool == NULL:
        return NULL
    pool.heap = heap
    pool.nworkers = nworkers
    pool.capacity = capacity
    pool.ring_size = ring_size
    pool.ring_mask = ring_size - 1
    pool.new_slots = new_slots
    pool.new_payload = new_payload
    pool.nslots_total = 2 * <int64_t>nworkers * (1 + ring_size)
    pool.slots = <Object**>calloc(pool.nslots_total, sizeof(Object*))
    pool.local = <PoolLocal*>calloc(nworkers, sizeof(PoolLocal))
    pool.victim = <PoolLocal*>calloc(nworkers, sizeof(PoolLocal))
    pool.per_p = <PoolP*>calloc(nworkers, sizeof(PoolP))
    if pool.slots == NULL or pool.local == NULL or pool.victim == NULL or pool.per_p == NULL:
        free(pool.slots)
        free(pool.local)
        free(pool.victim)
        free(pool.per_p)
        free(pool)
        return NULL
    for half in range(2):
        locals_ = pool.local if half == 0 else pool.victim
        for w in range(nworkers):
            base = pool.slots + (<int64_t>half * nworkers + w) * (1 + ring_size)
            locals_[w].private_slot = base
            locals_[w].ring = base + 1
    heap.roots.extra_roots[heap.roots.nextra_roots].slots = pool.slots
    heap.roots.extra_roots[heap.roots.nextra_roots].count = pool.nslots_total
    heap.roots.nextra_roots += 1
    pool.next = <Pool*>heap.cycle_start_arg if heap.cycle_start_hook != NULL else NULL
    heap.cycle_start_arg = pool
    heap.cycle_start_hook = pool_cleanup_all
    return pool

cdef void pool_destroy(Pool* pool) noexcept nogil:
    """Detach from the heap (root range, hook list) and free.  Call with no run active:
    the pool's objects become unreachable."""
    cdef HeapState* heap
    cdef Pool** link
    cdef int i, j
    if pool == NULL:
        return
    heap = pool.heap
    link = <Pool**>&heap.cycle_start_arg
    while link[0] != NULL:
        if link[0] == pool:
            link[0] = pool.next
            break
        link = &link[0].next
    if heap.cycle_start_arg == NULL and heap.cycle_start_hook == <heap_hook>pool_cleanup_all:
        heap.cycle_start_hook = NULL
    for i in range(heap.roots.nextra_roots):
        if heap.roots.extra_roots[i].slots == pool.slots:
            for j in range(i, heap.roots.nextra_roots - 1):
                heap.roots.extra_roots[j] = heap.roots.extra_roots[j + 1]
            heap.roots.nextra_roots -= 1
            heap.roots.extra_roots[heap.roots.nextra_roots].slots = NULL
            heap.roots.extra_roots[heap.roots.nextra_roots].count = 0
            break
    free(pool.slots)
    free(pool.local)
    free(pool.victim)
    free(pool.per_p)
    free(pool)

cdef Pool* pool_new(ManagedHeap heap, int nworkers, int64_t capacity,
                    uint32_t new_slots, uint32_t new_payload) except NULL:
    """pool_create with Python errors, for a workload's run() (with the GIL)."""
    cdef HeapState* h = heap.state
    if nworkers < 1:
        raise ValueError(f"a pool needs at least one worker, got {nworkers}")
    if capacity < 1:
        raise ValueError(f"a pool's shared queues need a capacity of at least 1, got {capacity}")
    if capacity > MAX_RING:
        raise ValueError(f"a pool's shared queues hold at most {MAX_RING} objects, got {capacity}")
    if h.roots.nextra_roots >= MAX_EXTRA_ROOTS:
        raise RuntimeError(f"no free extra-root entry for a pool (at most {MAX_EXTRA_ROOTS})")
    if h.cycle_start_hook != NULL and h.cycle_start_hook != <heap_hook>pool_cleanup_all:
        raise RuntimeError("the heap already has a cycle-start hook that is not a pool's")
    cdef Pool* pool = pool_create(h, nworkers, capacity, new_slots, new_payload)
    if pool == NULL:
        raise MemoryError()
    return pool

cdef dict pool_stats(Pool* pool):
    """The statistics as the result JSON's `pool` object: the per-P counters summed (read
    when no thread uses the pool)."""
    cdef PoolStats* s
    cdef int w
    total = dict.fromkeys(STAT_KEYS, 0)
    for w in range(pool.nworkers):
        s = &pool.per_p[w].stats
        for key, value in zip(STAT_KEYS, (s.gets, s.puts, s.hits_private, s.hits_shared,
                                          s.hits_stolen, s.hits_victim, s.misses, s.dropped,
                                          s.overflowed)):
            total[key] += value
    return total


# ---------------------------------------------------------------------------
# Test-only driver: one Python call per pool operation (never used by workloads).

cdef inline int64_t object_id(Object* obj) noexcept nogil:
    return (<int64_t*>(obj_slots(obj) + obj.nslots))[0]

cdef class PoolTester:
    """Drive a Pool step by step from tests.  Objects carry an id (their first payload
    word); objects the test holds sit in the heap's stack slots ("the hand"), so they
    are roots; get/put/drop move them between the hand, the pool and garbage."""
    cdef ManagedHeap heap
    cdef Pool* pool
    cdef dict hand                   # id -> stack slot
    cdef list free_slots
    cdef int64_t next_id

    def __cinit__(self, ManagedHeap heap, int workers, int64_t capacity=16, uint32_t payload=56):
        if payload < 8:
            raise ValueError("payload must hold the 8-byte object id")
        self.heap = heap
        self.pool = pool_new(heap, workers, capacity, 0, payload)
        self.hand = {}
        self.free_slots = list(range(MAX_STACK_SLOTS - 1, -1, -1))
        self.next_id = 1

    def __dealloc__(self):
        if self.pool != NULL:
            pool_destroy(self.pool)
            self.pool = NULL

    def close(self):
        """Detach the pool from the heap (its objects become garbage)."""
        if self.pool != NULL:
            pool_destroy(self.pool)
            self.pool = NULL

    cdef Pool* _pool(self) except NULL:
        if self.pool == NULL:
            raise RuntimeError("the pool is closed")
        return self.pool

    cdef int _worker(self, int worker) except -1:
        if worker < 0 or worker >= self._pool().nworkers:
            raise ValueError(f"worker {worker} out of range [0, {self.pool.nworkers})")
        return 0

    cdef int _take_slot(self) except -1:
        if not self.free_slots:
            raise RuntimeError("the hand is full")
        return self.free_slots.pop()

    def alloc(self):
        """A fresh object (not from the pool) into the hand; returns its id."""
        cdef Pool* pool = self._pool()
        cdef int r = self._take_slot()
        cdef Object* obj
        with nogil:
            obj = heap_alloc(pool.heap, 0, pool.new_payload)
            pool.heap.roots.stack[r] = obj
        self.heap.check_error()
        (<int64_t*>(obj_slots(obj)))[0] = self.next_id
        self.hand[self.next_id] = r
        self.next_id += 1
        return self.next_id - 1

    def get(self, int worker):
        """Get on `worker`: (id, source) with source one of SOURCE_NAMES."""
        cdef Pool* pool = self._pool()
        cdef int r
        cdef Object* obj
        cdef int64_t oid
        self._worker(worker)
        r = self._take_slot()
        with nogil:
            obj = pool_get(pool, worker, r)
        self.heap.check_error()
        if pool.per_p[worker].last_source == POOL_FROM_NEW:
            oid = self.next_id
            self.next_id += 1
            (<int64_t*>(obj_slots(obj)))[0] = oid
        else:
            oid = object_id(obj)
        self.hand[oid] = r
        return oid, SOURCE_NAMES[pool.per_p[worker].last_source]

    def put(self, int worker, int64_t oid):
        """Put the held object `oid` on `worker`; the hand lets go of it."""
        cdef Pool* pool = self._pool()
        cdef int r
        self._worker(worker)
        if oid not in self.hand:
            raise KeyError(f"object {oid} is not in the hand")
        r = self.hand.pop(oid)
        with nogil:
            pool_put(pool, worker, r)
            pool.heap.roots.stack[r] = NULL
        self.free_slots.append(r)

    def drop(self, int64_t oid):
        """Let go of the held object `oid` (garbage unless the pool also holds it)."""
        r = self.hand.pop(oid)
        self.heap.state.roots.stack[r] = NULL
        self.free_slots.append(r)

    def collect(self):
        """A full collection (its cleanup moves primary -> victim, drops the victim)."""
        self._pool()
        self.heap.collect()

    def stats(self):
        return pool_stats(self._pool())

    def contents(self):
        """What the pool holds, by id: per worker `private`, `shared` (tail to head),
        `victim_private`, `victim_shared`, and `victim_live` (Get still looks there)."""
        cdef Pool* pool = self._pool()
        cdef PoolLocal* l
        cdef int w
        cdef uint32_t head, tail
        out = {"private": [], "shared": [], "victim_private": [], "victim_shared": [],
               "victim_live": bool(pool.victim_live)}
        for w in range(pool.nworkers):
            for prefix, locals_ in (("", 0), ("victim_", 1)):
                l = &pool.local[w] if locals_ == 0 else &pool.victim[w]
                out[prefix + "private"].append(object_id(l.private_slot[0]) if l.private_slot[0] != NULL else None)
                head = <uint32_t>(l.head_tail >> 32)
                tail = <uint32_t>l.head_tail
                out[prefix + "shared"].append([object_id(l.ring[<uint32_t>(tail + k) & pool.ring_mask])
                                               for k in range(<uint32_t>(head - tail))])
        return out

    def held(self):
        """Ids of the objects in the hand."""
        return sorted(self.hand)


# ---------------------------------------------------------------------------
# Test-only: the lock-free deques under real mutator threads (tests/test_pool_threads.py).

from gcbench_core.heap cimport (run_kernel, mt_run_threads, gcb_fetch_add_i64, gcb_load_i64,
                                gcb_cpu_relax, MAX_MUTATOR_THREADS)
from gcbench_core.mutator cimport mt_alloc, mt_clear, mt_payload, mt_tick
from gcbench_core.rng cimport Rng, rng_seed, rng_below

ctypedef struct StressShared:
    Pool* pool
    int64_t ops                      # operations per thread
    int producer_consumer            # the threads but thread 0 only get
    int put_percent                  # a Put with this probability, else a Get
    uint64_t seed
    uint8_t* kept                    # per object id: a Put kept it (written by its putter)
    int64_t* got                     # per object id: Gets that returned it (atomic adds)
    int64_t bad_ids                  # Gets that returned an object with no valid id (atomic)
    int64_t started                  # threads at the start gate (atomic)
    int64_t steals                   # Gets that stole, every thread's (atomic)
    int64_t min_steals               # run past `ops` until this many (at most 50 x ops)
    int64_t nthreads

ctypedef struct StressThread:
    MutatorThread* m
    StressShared* shared
    int index                        # also the thread's P

cdef enum:
    HAND = 32                        # conserving mode: objects a thread can hold
    INITIAL = 8                      # ... and holds at the start

# Producer/consumer mode: thread 0 puts fresh objects carrying unique ids (and gets), the
# others only get.  Conserving mode (producer_consumer false): the objects are the
# threads' initial hands (INITIAL each, unique ids); a thread puts one of its hand (kept
# in the hand if the pool refuses it) or gets one into a free hand slot; thread 0 puts
# with probability put_percent and the others with 100 - put_percent, so with a bias the
# others' caches run empty and they steal from thread 0 while it pops its own head.
# Nothing is allocated in the loop but a Get's New (counted and dropped).
cdef void stress_thread(void* arg) noexcept nogil:
    cdef StressThread* t = <StressThread*>arg
    cdef MutatorThread* m = t.m
    cdef StressShared* sh = t.shared
    cdef Pool* pool = sh.pool
    cdef int w = t.index
    cdef int64_t i, oid
    cdef int r, k, held = 0, percent
    cdef bint put
    cdef Rng rng
    rng_seed(&rng, sh.seed + <uint64_t>w)
    percent = sh.put_percent if w == 0 else 100 - sh.put_percent
    if not sh.producer_consumer:
        for r in range(INITIAL):
            oid = 1 + w * INITIAL + r
            mt_alloc(m, r, 0, 8)
            (<int64_t*>mt_payload(m, r))[0] = oid
            sh.kept[oid] = 1
        held = INITIAL
    # start together (a loaded machine starts threads late): wait, polling the safepoint,
    # until every thread is here
    gcb_fetch_add_i64(&sh.started, 1)
    while gcb_load_i64(&sh.started) < sh.nthreads:
        mt_tick(m)
        gcb_cpu_relax()
    i = -1
    while True:
        i += 1
        if i >= sh.ops and (i >= 50 * sh.ops or gcb_load_i64(&sh.steals) >= sh.min_steals):
            break
        if sh.producer_consumer:
            if w != 0:
                put = False
            else:
                put = <int>rng_below(&rng, 100) < percent
            if put:
                oid = 1 + w * sh.ops + i
                mt_alloc(m, 0, 0, 8)
                (<int64_t*>mt_payload(m, 0))[0] = oid
                if pool_put_mt(pool, m, w, 0):
                    sh.kept[oid] = 1
                mt_clear(m, 0)
            else:
                pool_get_mt(pool, m, w, 1)
                if pool.per_p[w].last_source != POOL_FROM_NEW:
                    oid = (<int64_t*>mt_payload(m, 1))[0]
                    if oid < 1 or oid > sh.ops * pool.nworkers:
                        gcb_fetch_add_i64(&sh.bad_ids, 1)
                    else:
                        gcb_fetch_add_i64(&sh.got[oid], 1)
                mt_clear(m, 1)
            continue
        put = held == HAND or (held > 0 and <int>rng_below(&rng, 100) < percent)
        r = <int>rng_below(&rng, HAND)
        for k in range(HAND):
            if (m.stack[(r + k) % HAND] != NULL) == put:
                r = (r + k) % HAND
                break
        if put:
            if pool_put_mt(pool, m, w, r):
                mt_clear(m, r)
                held -= 1
        else:
            pool_get_mt(pool, m, w, r)
            if pool.per_p[w].last_source == POOL_FROM_NEW:
                mt_clear(m, r)
            else:
                if pool.per_p[w].last_source == POOL_FROM_STOLEN:
                    gcb_fetch_add_i64(&sh.steals, 1)
                oid = (<int64_t*>mt_payload(m, r))[0]
                if oid < 1 or oid > INITIAL * pool.nworkers:
                    gcb_fetch_add_i64(&sh.bad_ids, 1)
                held += 1

ctypedef struct StressRun:
    HeapState* heap
    int nthreads
    MutatorThread* threads
    void** args

cdef void stress_main(void* arg) noexcept nogil:
    cdef StressRun* run = <StressRun*>arg
    mt_run_threads(run.heap, run.nthreads, run.threads, stress_thread, run.args)

cdef int corrupt_deques(Pool* pool) noexcept nogil:
    """Deques (both halves) whose state breaks the invariant: at most `capacity` objects
    between tail and head, every slot in that range full and every other slot empty."""
    cdef int bad = 0, half, w
    cdef uint32_t head, tail, k
    cdef PoolLocal* l
    for half in range(2):
        for w in range(pool.nworkers):
            l = &pool.local[w] if half == 0 else &pool.victim[w]
            head = <uint32_t>(l.head_tail >> 32)
            tail = <uint32_t>l.head_tail
            if <uint32_t>(head - tail) > <uint64_t>pool.capacity:
                bad += 1
                continue
            for k in range(pool.ring_size):
                if (l.ring[k] != NULL) != (<uint32_t>(k - tail) & pool.ring_mask < <uint32_t>(head - tail)):
                    bad += 1
                    break
    return bad

def pool_stress(ManagedHeap heap, int threads, int64_t ops, int64_t capacity=64,
                bint producer_consumer=False, uint64_t seed=1, int put_percent=45,
                int64_t min_steals=0):
    """`threads` mutator threads, one P each, doing `ops` pool operations each on one
    pool: a Put of a fresh object carrying a unique id, or a Get (at random, a Put with
    probability put_percent: below half, a P's own cache runs empty often and it steals
    from the others while they pop their own heads; with producer_consumer, the threads
    but thread 0 only get: they steal from thread 0's deque while it pushes and pops).  Afterwards every id is accounted for: a kept Put must be
    returned by exactly one Get or still be held by the pool.  Returns the pool's
    statistics with `lost` (kept, never got, not held), `duplicated` (got or held more
    than once, or got without a kept Put), `bad_ids`, `held`, and per-thread CPU and wall
    seconds.  Use a heap large enough that no collection runs: a cleanup drops objects."""
    cdef StressShared sh
    cdef StressRun run
    cdef StressThread* params = NULL
    cdef int64_t nids = <int64_t>threads * (INITIAL if not producer_consumer else ops) + 1
    cdef int64_t i, oid, n, lost = 0, duplicated = 0, held_total = 0
    cdef int64_t* held = NULL
    cdef int i_thread
    if threads < 1 or threads > MAX_MUTATOR_THREADS or ops < 1:
        raise ValueError("threads in [1, MAX_MUTATOR_THREADS] and ops >= 1")
    sh.pool = pool_new(heap, threads, capacity, 0, 8)
    sh.ops = ops
    sh.producer_consumer = producer_consumer
    sh.seed = seed
    sh.put_percent = put_percent
    sh.bad_ids = 0
    sh.started = 0
    sh.steals = 0
    sh.min_steals = 0 if producer_consumer else min_steals   # its ids are numbered by operation
    sh.nthreads = threads
    sh.kept = <uint8_t*>calloc(nids, 1)
    sh.got = <int64_t*>calloc(nids, sizeof(int64_t))
    held = <int64_t*>calloc(nids, sizeof(int64_t))
    run.heap = heap.state
    run.nthreads = threads
    run.threads = <MutatorThread*>calloc(threads, sizeof(MutatorThread))
    run.args = <void**>calloc(threads, sizeof(void*))
    params = <StressThread*>calloc(threads, sizeof(StressThread))
    try:
        if sh.kept == NULL or sh.got == NULL or held == NULL or run.threads == NULL \
                or run.args == NULL or params == NULL:
            raise MemoryError()
        for i_thread in range(threads):
            params[i_thread].m = &run.threads[i_thread]
            params[i_thread].shared = &sh
            params[i_thread].index = i_thread
            run.args[i_thread] = &params[i_thread]
        run_kernel(heap, stress_main, &run)
        # what the pool still holds (both halves, every private slot and ring slot)
        for i in range(sh.pool.nslots_total):
            if sh.pool.slots[i] != NULL:
                oid = object_id(sh.pool.slots[i])
                if 1 <= oid < nids:
                    held[oid] += 1
                    held_total += 1
        if not producer_consumer:
            # conserving: the hands hold the rest, and there is no Get count per id
            for i_thread in range(threads):
                for i in range(HAND):
                    if run.threads[i_thread].stack[i] != NULL:
                        held[object_id(run.threads[i_thread].stack[i])] += 1
        for oid in range(1, nids):
            n = sh.got[oid] + held[oid]
            if sh.kept[oid] and n == 0:
                lost += 1
            elif n > sh.kept[oid]:
                duplicated += 1
        result = pool_stats(sh.pool)
        result.update(corrupt_deques=corrupt_deques(sh.pool), lost=lost, duplicated=duplicated, bad_ids=sh.bad_ids, held=held_total,
                      kept=sum(sh.kept[oid] for oid in range(1, nids)),
                      thread_cpu_s=[run.threads[i_thread].cpu_ns / 1e9 for i_thread in range(threads)],
                      thread_wall_s=[run.threads[i_thread].wall_ns / 1e9 for i_thread in range(threads)])
        return result
    finally:
        pool_destroy(sh.pool)
        free(sh.kept)
        free(sh.got)
        free(held)
        free(run.threads)
        free(run.args)
        free(params)
