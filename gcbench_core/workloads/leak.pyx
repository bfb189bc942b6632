# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""leak: request-shaped work where a fraction of requests leaks its object graph.

Each request builds a small graph (a request object whose pointer slots hold drawn
numbers of child objects of drawn sizes, the children chained to each other), keeps it
in flight for `in_flight` requests (a ring behind global 0, a server's concurrent
requests), then lets it go.  With probability `leak_fraction` a request also registers
its graph in a list that is never cleared: a leak node (2 slots: the graph, the
previous node) pushed on a linked list reached from global 1.  That is Go's
forgotten-goroutine leak (a goroutine blocked forever on a channel keeps its stack, and
everything the stack reaches, alive), or a map used as a cache with no eviction.

Live heap grows by about leak_fraction * graph size per request, every cycle marks more
than the last, and the pacer's goal climbs with it, until the run ends or the heap is
exhausted: the result's cycle_log live_bytes shows the growth, and `leaked_requests` /
`leaked_bytes_estimate` say how much was leaked.

Death is known: a request that leaves the ring and was not leaked dies with its whole
graph (mut_drop, recursive), so malloc frees it; a flag per ring entry (C memory)
remembers which ones were leaked.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, run_kernel
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_load, mut_clear, mut_drop, mut_set_global,
                                   mut_get_global, mut_payload)
from gcbench_core.rng cimport Rng, rng_seed, rng_double
from gcbench_core.dist cimport Dist, dist_set, dist_sample
from gcbench_core.distspec import dist_params, dist_args

NAME = "leak"
DESCRIPTION = "requests of which `leak_fraction` leave their graph on a never-cleared global list: live heap grows"
PARAMS = (
    {"name": "requests", "type": "int", "default": 500000, "min": 0, "max": 10_000_000_000,
     "help": "requests served"},
    {"name": "leak_fraction", "type": "float", "default": 0.01, "min": 0.0, "max": 1.0,
     "help": "probability that a request's graph stays reachable forever"},
    {"name": "in_flight", "type": "int", "default": 256, "min": 1, "max": 10_000_000,
     "help": "requests in flight at once (their graphs are live until replaced)"},
    *dist_params("slots", "children (pointer slots)", 2, 8, limit=1024, per="request"),
    *dist_params("payload", "payload bytes", 16, 256),
)
RESULT_KEYS = ("leaked_requests", "live_bytes_growth")

cdef enum:
    R_RING = 0
    R_REQ = 1
    R_CHILD = 2
    R_PREV = 3
    R_NODE = 4
    R_HEAD = 5
    R_OLD = 6                        # the request leaving the ring
    G_RING = 0
    G_LEAKS = 1

ctypedef struct Params:
    HeapState* heap
    int64_t requests
    double leak_fraction
    int64_t in_flight
    Dist slots
    Dist payload
    uint64_t seed
    int64_t leaked
    uint8_t* ring_leaked             # per ring entry: its request was leaked (do not drop)

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t req
    cdef uint32_t k, nslots
    rng_seed(&rng, p.seed)
    mut_alloc(heap, R_RING, <uint32_t>p.in_flight, 0)
    mut_set_global(heap, G_RING, R_RING)
    for req in range(p.requests):
        nslots = dist_sample(&p.slots, &rng)
        mut_alloc(heap, R_REQ, nslots, dist_sample(&p.payload, &rng))
        if heap.roots.stack[R_REQ].nbytes >= 16 + 8 * nslots:
            (<int64_t*>mut_payload(heap, R_REQ))[0] = req
        for k in range(nslots):
            # children chained (each has one slot to the previous one): a small graph,
            # not only a fan-out
            mut_alloc(heap, R_CHILD, 1, dist_sample(&p.payload, &rng))
            if k > 0:
                mut_store(heap, R_CHILD, 0, R_PREV)
            mut_store(heap, R_REQ, k, R_CHILD)
            mut_load(heap, R_PREV, R_REQ, k)
        mut_clear(heap, R_PREV)
        mut_clear(heap, R_CHILD)
        # in flight until `in_flight` later requests replace it
        if req >= p.in_flight:
            mut_load(heap, R_OLD, R_RING, <uint32_t>(req % p.in_flight))
        mut_store(heap, R_RING, <uint32_t>(req % p.in_flight), R_REQ)
        if req >= p.in_flight:
            if p.ring_leaked[req % p.in_flight]:
                mut_clear(heap, R_OLD)
            else:
                mut_drop(heap, R_OLD, True)
        p.ring_leaked[req % p.in_flight] = 0
        if rng_double(&rng) < p.leak_fraction:
            # the leak: registered on a global list and never removed
            p.leaked += 1
            p.ring_leaked[req % p.in_flight] = 1
            mut_alloc(heap, R_NODE, 2, 0)
            mut_store(heap, R_NODE, 0, R_REQ)
            mut_get_global(heap, R_HEAD, G_LEAKS)
            mut_store(heap, R_NODE, 1, R_HEAD)
            mut_set_global(heap, G_LEAKS, R_NODE)
            mut_clear(heap, R_HEAD)
            mut_clear(heap, R_NODE)
        mut_clear(heap, R_REQ)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    p.heap = heap.state
    p.requests = params["requests"]
    p.leak_fraction = params["leak_fraction"]
    p.in_flight = params["in_flight"]
    dist_set(&p.slots, dist_args(params, "slots"))
    dist_set(&p.payload, dist_args(params, "payload"))
    p.seed = seed
    p.leaked = 0
    p.ring_leaked = <uint8_t*>calloc(p.in_flight, 1)
    if p.ring_leaked == NULL:
        raise MemoryError()
    try:
        run_kernel(heap, kernel, &p)
    finally:
        free(p.ring_leaked)
    cycles = heap.cycles()
    growth = int(cycles["live_bytes"][-1] - cycles["live_bytes"][0]) if len(cycles) >= 2 else 0
    return {"leaked_requests": p.leaked, "live_bytes_growth": growth}
