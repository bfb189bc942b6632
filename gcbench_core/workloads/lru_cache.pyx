# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""lru-cache: a long-lived cache of `capacity` entries under power-law (Zipf) keys.

Keys are drawn from {0 .. keys-1} with P(k) proportional to 1 / (k+1)^zipf_s, by
inverse-CDF lookup in a table of `keys` cumulative weights built in C at the start
(binary search, exact for any s >= 0).  The cached entries live in the managed heap: a
table object with `capacity` pointer slots, reached from a global, holds each entry at
its ring slot; each entry has drawn pointer slots to value chunks of drawn size.  The
index (key -> slot, slot -> key) and the recency list (a doubly linked list of slots)
are C-side arrays, the way a real cache keeps its map beside the values.

A request allocates a short-lived key object (every lookup builds one, as Go builds a
string key), then: on a hit, loads the entry and reads it and moves it to the front;
on a miss, evicts the least recently used entry (its whole graph becomes garbage) and
allocates a new entry with its chunks in that slot.  The live set is constant and
large, old entries die unpredictably, and the hit rate sets the allocation rate:
memcached, groupcache, an HTTP response cache.  Death is known (so malloc frees): the
key dies after its lookup, an evicted entry dies with its chunks (mut_drop).
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t, int32_t
from libc.stdlib cimport malloc, free
from libc.math cimport pow
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, run_kernel
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_load, mut_clear, mut_drop, mut_set_global,
                                   mut_payload, mut_tick)
from gcbench_core.rng cimport Rng, rng_seed, rng_double
from gcbench_core.dist cimport Dist, dist_set, dist_sample
from gcbench_core.distspec import dist_params, dist_args

NAME = "lru-cache"
DESCRIPTION = "long-lived LRU cache of `capacity` entries; Zipf(zipf_s) keys; misses allocate and evict"
PARAMS = (
    {"name": "capacity", "type": "int", "default": 20000, "min": 1, "max": 50_000_000,
     "help": "entries the cache holds"},
    {"name": "keys", "type": "int", "default": 200000, "min": 1, "max": 50_000_000,
     "help": "size of the key space"},
    {"name": "zipf_s", "type": "float", "default": 1.0, "min": 0.0, "max": 10.0,
     "help": "Zipf exponent of key popularity (0: uniform; higher: fewer hot keys, more hits)"},
    {"name": "requests", "type": "int", "default": 1000000, "min": 0, "max": 10_000_000_000,
     "help": "cache lookups"},
    *dist_params("slots", "value chunks (pointer slots)", 1, 3, limit=1024, per="entry"),
    *dist_params("payload", "payload bytes", 16, 256),
)
RESULT_KEYS = ("cache_hits", "cache_misses")

cdef enum:
    R_TABLE = 0
    R_KEY = 1
    R_ENTRY = 2
    R_CHUNK = 3
    R_OLD = 4            # the evicted entry
    G_TABLE = 0
    NONE = -1

ctypedef struct Params:
    HeapState* heap
    int64_t capacity
    int64_t keys
    double zipf_s
    int64_t requests
    Dist slots
    Dist payload
    uint64_t seed
    int64_t hits
    int64_t misses
    uint64_t checksum
    double* cdf                      # C-side index, allocated with the GIL by run()
    int32_t* key_slot
    int64_t* slot_key
    int32_t* prev
    int32_t* next

# First index whose cumulative weight exceeds u * total.
cdef inline int64_t zipf_draw(double* cdf, int64_t n, Rng* rng) noexcept nogil:
    cdef double u = rng_double(rng) * cdf[n - 1]
    cdef int64_t lo = 0, hi = n - 1, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t i, req, key, slot, used = 0, head = NONE, tail = NONE
    cdef bint evicted
    cdef uint32_t k, nslots
    cdef double acc = 0
    cdef Object* entry
    cdef double* cdf = p.cdf
    cdef int32_t* key_slot = p.key_slot
    cdef int64_t* slot_key = p.slot_key
    cdef int32_t* prev = p.prev
    cdef int32_t* next = p.next
    for i in range(p.keys):
        acc += 1.0 / pow(i + 1.0, p.zipf_s)
        cdf[i] = acc
        key_slot[i] = NONE
    rng_seed(&rng, p.seed)
    mut_alloc(heap, R_TABLE, <uint32_t>p.capacity, 0)
    mut_set_global(heap, G_TABLE, R_TABLE)
    for req in range(p.requests):
        key = zipf_draw(cdf, p.keys, &rng)
        mut_alloc(heap, R_KEY, 0, 16)               # the lookup key, garbage at once
        (<int64_t*>mut_payload(heap, R_KEY))[0] = key
        slot = key_slot[key]
        if slot != NONE:
            p.hits += 1
            entry = mut_load(heap, R_ENTRY, R_TABLE, <uint32_t>slot)
            p.checksum += entry.nbytes
            if slot != head:                        # move to the front
                next[prev[slot]] = next[slot]
                if next[slot] != NONE:
                    prev[next[slot]] = prev[slot]
                else:
                    tail = prev[slot]
                prev[slot] = NONE
                next[slot] = <int32_t>head
                prev[head] = <int32_t>slot
                head = slot
            mut_tick(heap)
        else:
            p.misses += 1
            evicted = used >= p.capacity
            if not evicted:
                slot = used
                used += 1
            else:                                   # evict the least recently used
                slot = tail
                key_slot[slot_key[slot]] = NONE
                tail = prev[slot]
                if tail != NONE:
                    next[tail] = NONE
                else:
                    head = NONE
            nslots = dist_sample(&p.slots, &rng)
            mut_alloc(heap, R_ENTRY, nslots, dist_sample(&p.payload, &rng))
            for k in range(nslots):
                mut_alloc(heap, R_CHUNK, 0, dist_sample(&p.payload, &rng))
                mut_store(heap, R_ENTRY, k, R_CHUNK)
            mut_clear(heap, R_CHUNK)
            if evicted:
                mut_load(heap, R_OLD, R_TABLE, <uint32_t>slot)
            mut_store(heap, R_TABLE, <uint32_t>slot, R_ENTRY)   # the old entry is garbage
            if evicted:
                mut_drop(heap, R_OLD, True)
            key_slot[key] = <int32_t>slot
            slot_key[slot] = key
            prev[slot] = NONE
            next[slot] = <int32_t>head
            if head != NONE:
                prev[head] = <int32_t>slot
            head = slot
            if tail == NONE:
                tail = slot
        mut_clear(heap, R_ENTRY)
        mut_drop(heap, R_KEY, False)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    p.heap = heap.state
    p.capacity = params["capacity"]
    p.keys = params["keys"]
    p.zipf_s = params["zipf_s"]
    p.requests = params["requests"]
    dist_set(&p.slots, dist_args(params, "slots"))
    dist_set(&p.payload, dist_args(params, "payload"))
    p.seed = seed
    p.hits = p.misses = 0
    p.checksum = 0
    p.cdf = <double*>malloc(p.keys * sizeof(double))
    p.key_slot = <int32_t*>malloc(p.keys * sizeof(int32_t))
    p.slot_key = <int64_t*>malloc(p.capacity * sizeof(int64_t))
    p.prev = <int32_t*>malloc(p.capacity * sizeof(int32_t))
    p.next = <int32_t*>malloc(p.capacity * sizeof(int32_t))
    try:
        if p.cdf == NULL or p.key_slot == NULL or p.slot_key == NULL or p.prev == NULL or p.next == NULL:
            raise MemoryError("lru-cache: out of C memory for the index")
        run_kernel(heap, kernel, &p)
    finally:
        free(p.cdf); free(p.key_slot); free(p.slot_key); free(p.prev); free(p.next)
    return {"cache_hits": p.hits, "cache_misses": p.misses}
