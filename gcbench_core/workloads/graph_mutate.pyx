# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""graph-mutate: a random graph of live objects under heavy pointer rewriting.

The graph: `nodes` objects with `slots` pointer slots each and `payload` bytes, held
through a table (one array object reached from a global, never from stack slots), each
slot pointing to a random node with probability 1/2.  Then, for `ops` steps:
  * with probability `rewrite_rate`, a reference changes hands, in one of two ways, each
    starting from a node A and target nodes B reached by a random walk of `walk_depth`
    hops from a table entry (so interior, long-scanned objects are written too):
      - move: X := A.s; A.s := NULL; B.t := X.  For a moment X is reachable only from a
        stack slot, then only from B: exactly the pattern that hides a white object
        behind a black one when there is no barrier (A not yet scanned, B already
        scanned);
      - park: the reference parked in one of `parked` stack slots is stored into B.t,
        then X := A.s is parked there and A.s := NULL: X lives on the stack alone,
        across many operations (the case for Dijkstra's stack rescan and for the
        hybrid barrier's "shade the new target while the stack is grey");
  * with probability `alloc_rate`, a new node, its slots pointing to random nodes,
    replaces a random table entry (the old one lives on while other nodes point to it);
  * every `gc_every` steps (if not 0), runtime.GC().
Every choice comes from the seed; every operation is a mutator.pxd operation.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, run_kernel
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_store_null, mut_load, mut_clear,
                                   mut_set_global, mut_gc)
from gcbench_core.rng cimport Rng, rng_seed, rng_below, rng_double

NAME = "graph-mutate"
DESCRIPTION = "a random object graph under heavy pointer rewriting that moves references between objects and stack roots"
PARAMS = (
    {"name": "nodes", "type": "int", "default": 100000, "min": 2, "max": 50_000_000,
     "help": "nodes in the graph (the table that holds them is one array object)"},
    {"name": "slots", "type": "int", "default": 4, "min": 1, "max": 64,
     "help": "pointer slots per node"},
    {"name": "payload", "type": "int", "default": 16, "min": 0, "max": 4096,
     "help": "payload bytes per node"},
    {"name": "ops", "type": "int", "default": 2000000, "min": 0, "max": 10_000_000_000,
     "help": "steps"},
    {"name": "rewrite_rate", "type": "float", "default": 0.5, "min": 0.0, "max": 1.0,
     "help": "probability that a step moves a reference between objects (or via a parked stack slot)"},
    {"name": "alloc_rate", "type": "float", "default": 0.3, "min": 0.0, "max": 1.0,
     "help": "probability that a step allocates a node that replaces a random table entry"},
    {"name": "parked", "type": "int", "default": 64, "min": 0, "max": 240,
     "help": "stack slots that hold detached references across steps (more: each is held longer)"},
    {"name": "walk_depth", "type": "int", "default": 2, "min": 0, "max": 16,
     "help": "hops of the random walk from a table entry that picks the nodes rewritten"},
    {"name": "gc_every", "type": "int", "default": 0, "min": 0, "max": 10_000_000_000,
     "help": "steps between runtime.GC() calls (0: never), e.g. to force a collection mid-cycle"},
)

cdef enum:
    R_TABLE = 0
    R_A = 1
    R_B = 2
    R_X = 3
    R_NEW = 4
    R_PEEK = 5
    R_PARKED = 8        # R_PARKED .. R_PARKED + parked - 1
    G_TABLE = 0

ctypedef struct Params:
    HeapState* heap
    int64_t nodes
    uint32_t slots
    uint32_t payload
    int64_t ops
    double rewrite_rate
    double alloc_rate
    int parked
    int walk_depth
    int64_t gc_every
    uint64_t seed

# stack[r] := a node reached by a random walk from a random table entry (never NULL).
cdef inline void pick_node(HeapState* heap, Rng* rng, Params* p, int r) noexcept nogil:
    cdef int d
    cdef uint32_t s
    mut_load(heap, r, R_TABLE, <uint32_t>rng_below(rng, p.nodes))
    for d in range(p.walk_depth):
        s = <uint32_t>rng_below(rng, p.slots)
        if mut_load(heap, R_PEEK, r, s) == NULL:
            break
        mut_load(heap, r, r, s)
    mut_clear(heap, R_PEEK)

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t i, step
    cdef uint32_t s
    cdef int park
    cdef bint occupied[256]            # the workload's own record of its parked slots
    for park in range(256):
        occupied[park] = False
    rng_seed(&rng, p.seed)
    mut_alloc(heap, R_TABLE, <uint32_t>p.nodes, 0)
    mut_set_global(heap, G_TABLE, R_TABLE)
    for i in range(p.nodes):
        mut_alloc(heap, R_NEW, p.slots, p.payload)
        mut_store(heap, R_TABLE, <uint32_t>i, R_NEW)
    mut_clear(heap, R_NEW)
    for i in range(p.nodes):
        mut_load(heap, R_A, R_TABLE, <uint32_t>i)
        for s in range(p.slots):
            if rng_below(&rng, 2):
                mut_load(heap, R_B, R_TABLE, <uint32_t>rng_below(&rng, p.nodes))
                mut_store(heap, R_A, s, R_B)
    mut_clear(heap, R_A)
    mut_clear(heap, R_B)
    for step in range(p.ops):
        if rng_double(&rng) < p.rewrite_rate:
            pick_node(heap, &rng, p, R_A)
            if p.parked > 0 and rng_below(&rng, 2):
                park = R_PARKED + <int>rng_below(&rng, p.parked)
                if occupied[park]:
                    pick_node(heap, &rng, p, R_B)
                    mut_store(heap, R_B, <uint32_t>rng_below(&rng, p.slots), park)
                s = <uint32_t>rng_below(&rng, p.slots)
                occupied[park] = mut_load(heap, park, R_A, s) != NULL
                mut_store_null(heap, R_A, s)
            else:
                s = <uint32_t>rng_below(&rng, p.slots)
                mut_load(heap, R_X, R_A, s)
                mut_store_null(heap, R_A, s)
                pick_node(heap, &rng, p, R_B)
                mut_store(heap, R_B, <uint32_t>rng_below(&rng, p.slots), R_X)
                mut_clear(heap, R_X)
            mut_clear(heap, R_A)
            mut_clear(heap, R_B)
        if rng_double(&rng) < p.alloc_rate:
            mut_alloc(heap, R_NEW, p.slots, p.payload)
            for s in range(p.slots):
                if rng_below(&rng, 2):
                    pick_node(heap, &rng, p, R_B)
                    mut_store(heap, R_NEW, s, R_B)
            mut_store(heap, R_TABLE, <uint32_t>rng_below(&rng, p.nodes), R_NEW)
            mut_clear(heap, R_NEW)
            mut_clear(heap, R_B)
        if p.gc_every > 0 and (step + 1) % p.gc_every == 0:
            mut_gc(heap)
    for park in range(R_PARKED, R_PARKED + p.parked):
        mut_clear(heap, park)
    mut_clear(heap, R_TABLE)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    p.heap = heap.state
    p.nodes = params["nodes"]
    p.slots = params["slots"]
    p.payload = params["payload"]
    p.ops = params["ops"]
    p.rewrite_rate = params["rewrite_rate"]
    p.alloc_rate = params["alloc_rate"]
    p.parked = params["parked"]
    p.walk_depth = params["walk_depth"]
    p.gc_every = params["gc_every"]
    p.seed = seed
    if heap.state.collector.drop != NULL:
        raise ValueError("graph-mutate rewrites pointers at random, so only a tracing collector can tell "
                         "when a node dies; a collector that frees on drop (malloc) cannot run it")
    run_kernel(heap, kernel, &p)
