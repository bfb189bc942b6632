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

`threads=N` (N > 1): the graph is built on the run's thread as above, then N mutator
threads (OS threads, each with its own stack slots, parked slots and allocation cache)
share the `ops` steps and rewrite the same graph at the same time, each drawing its
choices from its own generator (seeded from the run's, in order), reaching the table
through the global.  Their stores race on the same slots, as unsynchronised goroutines'
would: every store goes through the barrier, and a barrier race between mutators is
exactly what a concurrent collector must survive (--verify, --checkmark).  The choices
are seeded; the interleaving, and so the final graph, is the machine's.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, run_kernel, MutatorThread, mt_run_threads,
                                MutatorGroup, mt_group_init, mt_group_free, mt_group_figures)
from gcbench_core.mutator cimport (Mutator, op_alloc, op_store, op_store_null, op_load, op_clear,
                                   op_get_global, op_gc, mut_alloc, mut_store, mut_load, mut_clear,
                                   mut_set_global, RunThread, mt_tick)
from gcbench_core.rng cimport Rng, rng_seed, rng_next, rng_below, rng_double

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
     "help": "steps between runtime.GC() calls (0: never), e.g. to force a collection mid-cycle; "
             "with threads, each thread's own steps"},
    {"name": "threads", "type": "int", "default": 1, "min": 1, "max": 32,
     "help": "mutator threads that share the steps and rewrite the same graph at once; collectors "
             "with multi_mutator support it (1: the single-threaded workload on the run's thread)"},
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
cdef inline void pick_node(Mutator m, Rng* rng, Params* p, int r) noexcept nogil:
    cdef int d
    cdef uint32_t s
    op_load(m, r, R_TABLE, <uint32_t>rng_below(rng, p.nodes))
    for d in range(p.walk_depth):
        s = <uint32_t>rng_below(rng, p.slots)
        if op_load(m, R_PEEK, r, s) == NULL:
            break
        if Mutator is RunThread:
            op_load(m, r, r, s)
        else:
            # not a second load: another mutator may clear the slot in between (the walk
            # would stand on NULL); the copy and a tick are the same two operations
            m.stack[r] = m.stack[R_PEEK]
            mt_tick(m)
    op_clear(m, R_PEEK)

# `steps` rewriting steps on the graph whose table is in stack[R_TABLE].
cdef void mutate(Mutator m, Rng* rng, Params* p, int64_t steps) noexcept nogil:
    cdef int64_t step
    cdef uint32_t s
    cdef int park
    cdef bint occupied[256]            # the workload's own record of its parked slots
    for park in range(256):
        occupied[park] = False
    for step in range(steps):
        if rng_double(rng) < p.rewrite_rate:
            pick_node(m, rng, p, R_A)
            if p.parked > 0 and rng_below(rng, 2):
                park = R_PARKED + <int>rng_below(rng, p.parked)
                if occupied[park]:
                    pick_node(m, rng, p, R_B)
                    op_store(m, R_B, <uint32_t>rng_below(rng, p.slots), park)
                s = <uint32_t>rng_below(rng, p.slots)
                occupied[park] = op_load(m, park, R_A, s) != NULL
                op_store_null(m, R_A, s)
            else:
                s = <uint32_t>rng_below(rng, p.slots)
                op_load(m, R_X, R_A, s)
                op_store_null(m, R_A, s)
                pick_node(m, rng, p, R_B)
                op_store(m, R_B, <uint32_t>rng_below(rng, p.slots), R_X)
                op_clear(m, R_X)
            op_clear(m, R_A)
            op_clear(m, R_B)
        if rng_double(rng) < p.alloc_rate:
            op_alloc(m, R_NEW, p.slots, p.payload)
            for s in range(p.slots):
                if rng_below(rng, 2):
                    pick_node(m, rng, p, R_B)
                    op_store(m, R_NEW, s, R_B)
            op_store(m, R_TABLE, <uint32_t>rng_below(rng, p.nodes), R_NEW)
            op_clear(m, R_NEW)
            op_clear(m, R_B)
        if p.gc_every > 0 and (step + 1) % p.gc_every == 0:
            op_gc(m)
    for park in range(R_PARKED, R_PARKED + p.parked):
        op_clear(m, park)

# The graph: the table in stack[R_TABLE] and global G_TABLE, `nodes` nodes, random edges.
cdef void build(HeapState* heap, Rng* rng, Params* p) noexcept nogil:
    cdef int64_t i
    cdef uint32_t s
    mut_alloc(heap, R_TABLE, <uint32_t>p.nodes, 0)
    mut_set_global(heap, G_TABLE, R_TABLE)
    for i in range(p.nodes):
        mut_alloc(heap, R_NEW, p.slots, p.payload)
        mut_store(heap, R_TABLE, <uint32_t>i, R_NEW)
    mut_clear(heap, R_NEW)
    for i in range(p.nodes):
        mut_load(heap, R_A, R_TABLE, <uint32_t>i)
        for s in range(p.slots):
            if rng_below(rng, 2):
                mut_load(heap, R_B, R_TABLE, <uint32_t>rng_below(rng, p.nodes))
                mut_store(heap, R_A, s, R_B)
    mut_clear(heap, R_A)
    mut_clear(heap, R_B)

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    rng_seed(&rng, p.seed)
    build(heap, &rng, p)
    mutate(heap, &rng, p, p.ops)
    mut_clear(heap, R_TABLE)

# ---------------------------------------------------------------------------
# threads > 1: the steps shared by N mutator threads.

ctypedef struct ThreadParams:
    MutatorThread* m
    Params* p
    Rng rng
    int64_t steps

cdef void thread_kernel(void* arg) noexcept nogil:
    cdef ThreadParams* t = <ThreadParams*>arg
    op_get_global(t.m, R_TABLE, G_TABLE)
    mutate(t.m, &t.rng, t.p, t.steps)
    op_clear(t.m, R_TABLE)

ctypedef struct ThreadedRun:
    Params* p
    MutatorGroup group
    ThreadParams* params

cdef void threaded_kernel(void* arg) noexcept nogil:
    cdef ThreadedRun* run = <ThreadedRun*>arg
    cdef HeapState* heap = run.p.heap
    cdef Rng rng
    cdef int i
    rng_seed(&rng, run.p.seed)
    build(heap, &rng, run.p)
    mut_clear(heap, R_TABLE)         # the threads reach the table through the global
    for i in range(run.group.n):
        rng_seed(&run.params[i].rng, rng_next(&rng))
    mt_run_threads(heap, run.group.n, run.group.threads, thread_kernel, run.group.args)

cdef dict run_threads(ManagedHeap heap, Params* p, int nthreads):
    cdef ThreadedRun run
    cdef int i
    run.p = p
    mt_group_init(&run.group, nthreads)
    run.params = <ThreadParams*>calloc(nthreads, sizeof(ThreadParams))
    try:
        if run.params == NULL:
            raise MemoryError()
        for i in range(nthreads):
            run.params[i].m = &run.group.threads[i]
            run.params[i].p = p
            run.params[i].steps = p.ops // nthreads + (1 if i < p.ops % nthreads else 0)
            run.group.args[i] = &run.params[i]
        run_kernel(heap, threaded_kernel, &run)
        return mt_group_figures(&run.group)
    finally:
        mt_group_free(&run.group)
        free(run.params)

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
    if params["threads"] > 1:
        return run_threads(heap, &p, params["threads"])
    run_kernel(heap, kernel, &p)
