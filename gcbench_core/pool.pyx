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

Deviation from Go: a shared deque is a ring of fixed `capacity` (Go's poolChain grows
without bound), so that the root range never moves under a concurrent marker; a Put
into a full ring drops the object (counted in `overflowed`).  Workers run interleaved
on the mutator thread, so the deques need no atomics among themselves.
"""
from libc.stdint cimport uint32_t, int64_t, uintptr_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, heap_alloc, obj_slots, gcb_store_ptr,
                                MAX_EXTRA_ROOTS, MAX_STACK_SLOTS, heap_hook)
from gcbench_core.mutator cimport heap_write

SOURCE_NAMES = ("private", "shared", "stolen", "victim", "new")
STAT_KEYS = ("gets", "puts", "hits_private", "hits_shared", "hits_stolen", "hits_victim",
             "misses", "dropped", "overflowed")


# ---------------------------------------------------------------------------
# The shared deque: a ring of `capacity` slots; objects at tail .. tail+count-1.

cdef inline void deque_push_head(Pool* pool, PoolLocal* l, Object* x) noexcept nogil:
    cdef int64_t index = (l.tail + l.count) % pool.capacity
    heap_write(pool.heap, &l.ring[index], x)
    l.count += 1

cdef inline Object* deque_pop_head(Pool* pool, PoolLocal* l) noexcept nogil:
    cdef int64_t index
    cdef Object* x
    if l.count == 0:
        return NULL
    l.count -= 1
    index = (l.tail + l.count) % pool.capacity
    x = l.ring[index]
    heap_write(pool.heap, &l.ring[index], NULL)
    return x

cdef inline Object* deque_pop_tail(Pool* pool, PoolLocal* l) noexcept nogil:
    cdef Object* x
    if l.count == 0:
        return NULL
    x = l.ring[l.tail]
    heap_write(pool.heap, &l.ring[l.tail], NULL)
    l.tail = (l.tail + 1) % pool.capacity
    l.count -= 1
    return x


# ---------------------------------------------------------------------------
# Get and Put slow paths (the private-slot fast paths are inline in pool.pxd)

cdef Object* pool_get_slow(Pool* pool, int worker) noexcept nogil:
    cdef int n = pool.nworkers
    cdef int i
    cdef Object* x
    cdef PoolLocal* v
    x = deque_pop_head(pool, &pool.local[worker])
    if x != NULL:
        pool.stats.hits_shared += 1
        pool.last_source = POOL_FROM_SHARED
        return x
    # Go's getSlow: steal from the tail, starting at the next worker; the loop ends on
    # the own deque, which is empty by now.
    for i in range(n):
        x = deque_pop_tail(pool, &pool.local[(worker + i + 1) % n])
        if x != NULL:
            pool.stats.hits_stolen += 1
            pool.last_source = POOL_FROM_STOLEN
            return x
    if pool.victim_live:
        v = &pool.victim[worker]
        x = v.private_slot[0]
        if x != NULL:
            heap_write(pool.heap, v.private_slot, NULL)
            pool.stats.hits_victim += 1
            pool.last_source = POOL_FROM_VICTIM
            return x
        for i in range(n):
            x = deque_pop_tail(pool, &pool.victim[(worker + i) % n])
            if x != NULL:
                pool.stats.hits_victim += 1
                pool.last_source = POOL_FROM_VICTIM
                return x
        pool.victim_live = 0
    # New.  heap_alloc runs the collector's allocation hook before it allocates, so a
    # collection here (and its cleanup) never sees the new object unreachable.
    pool.stats.misses += 1
    pool.last_source = POOL_FROM_NEW
    return heap_alloc(pool.heap, pool.new_slots, pool.new_payload)

cdef void pool_put_slow(Pool* pool, int worker, Object* x) noexcept nogil:
    cdef PoolLocal* l = &pool.local[worker]
    if l.count == pool.capacity:
        pool.stats.overflowed += 1
        return
    deque_push_head(pool, l, x)


# ---------------------------------------------------------------------------
# Cleanup (Go's poolCleanup), run by the collector inside the cycle's first pause.

cdef void pool_cleanup(Pool* pool) noexcept nogil:
    cdef int w
    cdef int64_t k
    cdef PoolLocal* v
    cdef PoolLocal* swap
    for w in range(pool.nworkers):
        v = &pool.victim[w]
        if v.private_slot[0] != NULL:
            gcb_store_ptr(<void**>v.private_slot, NULL)
            pool.stats.dropped += 1
        for k in range(v.count):
            gcb_store_ptr(<void**>&v.ring[(v.tail + k) % pool.capacity], NULL)
        pool.stats.dropped += v.count
        v.tail = 0
        v.count = 0
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
    if nworkers < 1 or capacity < 1 or heap.roots.nextra_roots >= MAX_EXTRA_ROOTS:
        return NULL
    if heap.cycle_start_hook != NULL and heap.cycle_start_hook != <heap_hook>pool_cleanup_all:
        return NULL
    pool = <Pool*>calloc(1, sizeof(Pool))
    if pool == NULL:
        return NULL
    pool.heap = heap
    pool.nworkers = nworkers
    pool.capacity = capacity
    pool.new_slots = new_slots
    pool.new_payload = new_payload
    pool.nslots_total = 2 * <int64_t>nworkers * (1 + capacity)
    pool.slots = <Object**>calloc(pool.nslots_total, sizeof(Object*))
    pool.local = <PoolLocal*>calloc(nworkers, sizeof(PoolLocal))
    pool.victim = <PoolLocal*>calloc(nworkers, sizeof(PoolLocal))
    if pool.slots == NULL or pool.local == NULL or pool.victim == NULL:
        free(pool.slots)
        free(pool.local)
        free(pool.victim)
        free(pool)
        return NULL
    for half in range(2):
        locals_ = pool.local if half == 0 else pool.victim
        for w in range(nworkers):
            base = pool.slots + (<int64_t>half * nworkers + w) * (1 + capacity)
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
    free(pool)

cdef Pool* pool_new(ManagedHeap heap, int nworkers, int64_t capacity,
                    uint32_t new_slots, uint32_t new_payload) except NULL:
    """pool_create with Python errors, for a workload's run() (with the GIL)."""
    cdef HeapState* h = heap.state
    if nworkers < 1:
        raise ValueError(f"a pool needs at least one worker, got {nworkers}")
    if capacity < 1:
        raise ValueError(f"a pool's shared queues need a capacity of at least 1, got {capacity}")
    if h.roots.nextra_roots >= MAX_EXTRA_ROOTS:
        raise RuntimeError(f"no free extra-root entry for a pool (at most {MAX_EXTRA_ROOTS})")
    if h.cycle_start_hook != NULL and h.cycle_start_hook != <heap_hook>pool_cleanup_all:
        raise RuntimeError("the heap already has a cycle-start hook that is not a pool's")
    cdef Pool* pool = pool_create(h, nworkers, capacity, new_slots, new_payload)
    if pool == NULL:
        raise MemoryError()
    return pool

cdef dict pool_stats(Pool* pool):
    """The statistics as the result JSON's `pool` object."""
    cdef PoolStats* s = &pool.stats
    return {"gets": s.gets, "puts": s.puts, "hits_private": s.hits_private,
            "hits_shared": s.hits_shared, "hits_stolen": s.hits_stolen,
            "hits_victim": s.hits_victim, "misses": s.misses, "dropped": s.dropped,
            "overflowed": s.overflowed}


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
        if pool.last_source == POOL_FROM_NEW:
            oid = self.next_id
            self.next_id += 1
            (<int64_t*>(obj_slots(obj)))[0] = oid
        else:
            oid = object_id(obj)
        self.hand[oid] = r
        return oid, SOURCE_NAMES[pool.last_source]

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
        cdef int64_t k
        out = {"private": [], "shared": [], "victim_private": [], "victim_shared": [],
               "victim_live": bool(pool.victim_live)}
        for w in range(pool.nworkers):
            for prefix, locals_ in (("", 0), ("victim_", 1)):
                l = &pool.local[w] if locals_ == 0 else &pool.victim[w]
                out[prefix + "private"].append(object_id(l.private_slot[0]) if l.private_slot[0] != NULL else None)
                out[prefix + "shared"].append([object_id(l.ring[(l.tail + k) % pool.capacity]) for k in range(l.count)])
        return out

    def held(self):
        """Ids of the objects in the hand."""
        return sorted(self.hand)
