# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""churn: a steady live set under constant replacement and pointer rewriting.

A ring (one long-lived array object with `live_objects` pointer slots, reached from a
global) holds the live set.  For `ops` steps, a random ring entry is replaced by a
freshly allocated object; with probability `mutate_fraction` a pointer slot of a
random live object is rewritten to point to another live object, so the live graph is
not a flat list.  Object payloads and slot counts are drawn from named distributions
(gcbench_core/dist.pxd), by default uniformly from [min_payload, max_payload] bytes and
[min_slots, max_slots] = [0, 2] slots, exactly the draws churn made before the
distributions existed (same seed, same run).  Live heap stays near
live_objects * mean size, so every cycle marks the same amount of work.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, run_kernel
from gcbench_core.mutator cimport mut_alloc, mut_store, mut_load, mut_clear, mut_drop, mut_set_global
from gcbench_core.rng cimport Rng, rng_seed, rng_below, rng_double
from gcbench_core.dist cimport Dist, dist_set, dist_sample
from gcbench_core.distspec import dist_params, dist_args

NAME = "churn"
DESCRIPTION = "a ring of live objects, each step replacing a random one and rewriting pointers"
PARAMS = (
    {"name": "live_objects", "type": "int", "default": 100000, "min": 1, "max": 200_000_000,
     "help": "objects in the live ring"},
    {"name": "ops", "type": "int", "default": 2000000, "min": 0, "max": 10_000_000_000,
     "help": "replacement steps"},
    {"name": "mutate_fraction", "type": "float", "default": 0.1, "min": 0.0, "max": 1.0,
     "help": "probability that a step also rewrites a pointer slot of a live object"},
    *dist_params("payload", "payload bytes", 8, 56),
    *dist_params("slots", "pointer slots", 0, 2, limit=64),
)

cdef enum:
    R_RING = 0
    R_NEW = 1
    R_A = 2
    R_B = 3
    R_OLD = 4
    G_RING = 0

ctypedef struct Params:
    HeapState* heap
    int64_t live_objects
    int64_t ops
    double mutate_fraction
    Dist payload
    Dist slots
    uint64_t seed

cdef inline void alloc_member(HeapState* heap, Rng* rng, Params* p) noexcept nogil:
    cdef uint32_t slots = dist_sample(&p.slots, rng)
    cdef uint32_t payload = dist_sample(&p.payload, rng)
    mut_alloc(heap, R_NEW, slots, payload)

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t i, step, n = p.live_objects
    cdef Object* a
    rng_seed(&rng, p.seed)
    mut_alloc(heap, R_RING, <uint32_t>n, 0)
    mut_set_global(heap, G_RING, R_RING)
    for i in range(n):
        alloc_member(heap, &rng, p)
        mut_store(heap, R_RING, <uint32_t>i, R_NEW)
    for step in range(p.ops):
        alloc_member(heap, &rng, p)
        i = <int64_t>rng_below(&rng, n)
        mut_load(heap, R_OLD, R_RING, <uint32_t>i)
        mut_store(heap, R_RING, <uint32_t>i, R_NEW)
        # the replaced member is garbage unless a rewritten slot still points to it
        # (mutate_fraction > 0), which only the collectors can tell; malloc refuses that,
        # and a recorded trace then says only that the root is cleared
        if p.mutate_fraction > 0:
            mut_clear(heap, R_OLD)
        else:
            mut_drop(heap, R_OLD, False)
        if p.mutate_fraction > 0 and rng_double(&rng) < p.mutate_fraction:
            a = mut_load(heap, R_A, R_RING, <uint32_t>rng_below(&rng, n))
            if a.nslots > 0:
                mut_load(heap, R_B, R_RING, <uint32_t>rng_below(&rng, n))
                mut_store(heap, R_A, <uint32_t>rng_below(&rng, a.nslots), R_B)
                mut_clear(heap, R_B)
            mut_clear(heap, R_A)
    mut_clear(heap, R_NEW)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    p.heap = heap.state
    p.live_objects = params["live_objects"]
    p.ops = params["ops"]
    p.mutate_fraction = params["mutate_fraction"]
    dist_set(&p.payload, dist_args(params, "payload"))
    dist_set(&p.slots, dist_args(params, "slots"))
    p.seed = seed
    if p.mutate_fraction > 0 and heap.state.collector.drop != NULL:
        raise ValueError("with mutate_fraction > 0 members are shared, so a collector that frees "
                         "on drop (malloc) cannot know when they die; use mutate_fraction=0")
    run_kernel(heap, kernel, &p)
