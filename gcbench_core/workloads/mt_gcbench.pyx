# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""mt-gcbench: Whippet's GCBench variant (wingo/whippet benchmarks/mt-gcbench.c).

GCBench (Ellis, Kovac, Boehm) as Whippet runs it: a long-lived tree of depth
`long_lived_depth` (16) and a long-lived pointer-free array of `array_len` doubles
(500000, half of it filled), then for each depth d from `min_depth` (4) to `max_depth`
(16) in steps of 2, 2 * TreeSize(max_depth + 2) / TreeSize(d) trees built top-down
(Populate) and as many bottom-up (MakeTree); no stretch tree.  What Whippet adds, and
this workload keeps exactly: between node allocations (twice per Populate step, once
per inner MakeTree node) a "hole" object of N words is allocated and dropped at once,
N taken in turn from the same 256-entry power-law table (counter from 0), so that
garbage of scattered sizes sits between the nodes of a tree: fragmentation for
non-moving collectors, copying work for moving ones.  A node is a header, two pointer
slots and 8 payload bytes (i, j): Whippet's 32-byte Node.  A hole is pointer-free, a
length word plus N words.

`threads=N` (Whippet's NTHREADS) runs one whole benchmark (long-lived tree and array,
then the tree construction) per mutator thread, N OS threads started here in nogil code,
each with its own stack slots and allocation cache (heap.pxd MutatorThread); the run's
own thread waits for them, blocked outside the heap.  Whippet runs one of the N on its
main thread; here the main thread is mutator 0, whose allocation path takes no lock, so
all N run on new threads.  At its end each thread publishes its long-lived tree and
array in globals 2i and 2i+1, so that they stay live after the threads are gone: the
live set after a final full collection is N trees and N arrays under every collector,
whatever the interleaving.  threads=1 is the single-threaded benchmark on the run's
own thread, exactly as before threads existed.

Every temporary lives in a stack slot (the recursive builders use one slot per level),
so a collection at any allocation sees every node under construction and can move it.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free
from posix.time cimport nanosleep, timespec
from gcbench_core.heap cimport (HeapState, ManagedHeap, run_kernel, MutatorThread, mt_run_threads,
                                MAX_GLOBALS, MutatorGroup, mt_group_init, mt_group_free, mt_group_figures)
from gcbench_core.mutator cimport (Mutator, op_alloc, op_store, op_clear, op_drop, op_load, op_payload,
                                   op_tick, op_preempt_point, mt_set_global, mt_blocked_enter, mt_blocked_leave)

NAME = "mt-gcbench"
DESCRIPTION = ("Whippet's mt-gcbench: GCBench with power-law 'hole' garbage between nodes "
               "(fragmentation and copying stress)")
PARAMS = (
    {"name": "long_lived_depth", "type": "int", "default": 16, "min": 0, "max": 24,
     "help": "depth of the tree that stays alive for the whole run (Whippet: 16)"},
    {"name": "array_len", "type": "int", "default": 500000, "min": 0, "max": 100_000_000,
     "help": "doubles in the long-lived pointer-free array (Whippet: 500000)"},
    {"name": "min_depth", "type": "int", "default": 4, "min": 0, "max": 24,
     "help": "depth of the smallest short-lived trees (Whippet: 4)"},
    {"name": "max_depth", "type": "int", "default": 16, "min": 0, "max": 24,
     "help": "depth of the largest short-lived trees (Whippet: 16)"},
    {"name": "holes", "type": "bool", "default": True,
     "help": "allocate the power-law hole objects between nodes (false: plain GCBench without the stretch tree)"},
    {"name": "threads", "type": "int", "default": 1, "min": 1, "max": 32,
     "help": "mutator threads (Whippet's NTHREADS), one benchmark each; collectors with "
             "multi_mutator support it (1: the single-threaded benchmark on the run's thread)"},
    {"name": "block_ms", "type": "int", "default": 0, "min": 0, "max": 60000,
     "help": "threads > 1: the last thread first waits this long outside the heap (blocked on "
             "I/O, as a goroutine in a syscall) before its benchmark; stops do not wait for it"},
)

# Whippet's power_law_distribution: each entry is the first integer accepted with
# probability 0.15 when counting up from 0 (words of garbage between live allocations).
cdef uint8_t POWER_LAW[256]
POWER_LAW[:] = [
    1, 15, 3, 12, 2, 8, 4, 0, 18, 7, 9, 8, 15, 2, 36, 5,
    1, 9, 6, 11, 9, 19, 2, 0, 0, 3, 9, 6, 3, 2, 1, 1,
    6, 1, 8, 4, 2, 0, 5, 3, 7, 0, 0, 3, 0, 4, 1, 7,
    1, 8, 2, 2, 2, 14, 0, 7, 8, 0, 2, 1, 4, 12, 7, 5,
    0, 3, 4, 13, 10, 2, 3, 7, 0, 8, 0, 23, 0, 16, 1, 1,
    6, 28, 1, 18, 0, 3, 6, 5, 8, 6, 14, 5, 2, 5, 0, 11,
    0, 18, 4, 16, 1, 4, 3, 13, 3, 23, 7, 4, 10, 5, 3, 13,
    0, 14, 5, 5, 2, 5, 0, 16, 2, 0, 1, 1, 0, 0, 4, 2,
    7, 7, 0, 5, 7, 2, 1, 24, 27, 3, 7, 1, 0, 8, 1, 4,
    0, 3, 0, 7, 7, 3, 9, 2, 9, 2, 5, 10, 1, 1, 12, 6,
    2, 9, 5, 0, 4, 6, 0, 7, 2, 1, 5, 4, 1, 0, 1, 15,
    4, 0, 15, 4, 0, 0, 32, 18, 2, 2, 1, 7, 8, 3, 11, 1,
    2, 7, 11, 1, 9, 1, 2, 6, 11, 17, 1, 2, 5, 1, 14, 3,
    6, 1, 1, 15, 3, 1, 0, 6, 10, 8, 1, 3, 2, 7, 0, 1,
    0, 11, 3, 3, 5, 8, 2, 0, 0, 7, 12, 2, 5, 20, 3, 7,
    4, 4, 5, 22, 1, 5, 2, 7, 15, 2, 4, 6, 11, 8, 12, 1]

cdef enum:
    NODE_SLOTS = 2
    NODE_PAYLOAD = 8                 # i and j
    R_HOLE = 0                       # the hole just allocated (dropped at once)
    R_ARRAY = 1
    R_LONG_TREE = 2                  # Populate uses the slots above it while building
    R_TEMP = 3                       # first slot of the recursive builders
    PREEMPT_EVERY = 4096             # array values filled between preemption points

ctypedef struct Params:
    HeapState* heap
    int long_lived_depth
    int64_t array_len
    int min_depth
    int max_depth
    bint holes
    int64_t block_ms
    uint64_t counter                 # Whippet's per-thread power-law counter
    int64_t hole_objects
    int64_t hole_bytes

# The benchmark is written once over the fused Mutator (mutator.pxd): Cython compiles it
# for the run's own thread (threads=1: the mut_* operations, recorded in traces) and for
# a mutator thread (the mt_* operations over its own stack slots).

cdef inline void allocate_garbage(Mutator m, Params* p) noexcept nogil:
    cdef uint32_t words
    if not p.holes:
        return
    words = POWER_LAW[p.counter & 0xFF]
    p.counter += 1
    if words:
        op_alloc(m, R_HOLE, 0, 8 + 8 * words)      # length + values
        (<uint64_t*>op_payload(m, R_HOLE))[0] = words
        op_drop(m, R_HOLE, False)
        p.hole_objects += 1
        p.hole_bytes += 16 + 8 * words

cdef inline void alloc_node(Mutator m, int r, int depth) noexcept nogil:
    op_alloc(m, r, NODE_SLOTS, NODE_PAYLOAD)
    (<int*>op_payload(m, r))[1] = depth            # j (i stays 0)

# Build the children of the node in stack[r], `depth` levels, top-down (Populate).
cdef void populate(Mutator m, Params* p, int depth, int r) noexcept nogil:
    if depth <= 0:
        return
    allocate_garbage(m, p)
    alloc_node(m, r + 1, 0)
    allocate_garbage(m, p)
    alloc_node(m, r + 2, 0)
    op_store(m, r, 0, r + 1)
    op_store(m, r, 1, r + 2)
    (<int*>op_payload(m, r))[1] = depth
    op_clear(m, r + 2)
    populate(m, p, depth - 1, r + 1)
    op_load(m, r + 1, r, 1)
    populate(m, p, depth - 1, r + 1)
    op_clear(m, r + 1)

# stack[r] := a tree of `depth` levels, built bottom-up (MakeTree).
cdef void make_tree(Mutator m, Params* p, int depth, int r) noexcept nogil:
    if depth <= 0:
        alloc_node(m, r, 0)
        return
    make_tree(m, p, depth - 1, r + 1)
    make_tree(m, p, depth - 1, r + 2)
    allocate_garbage(m, p)
    alloc_node(m, r, depth)
    op_store(m, r, 0, r + 1)
    op_store(m, r, 1, r + 2)
    op_clear(m, r + 1)
    op_clear(m, r + 2)

cdef inline int64_t tree_size(int depth) noexcept nogil:
    return ((<int64_t>1) << (depth + 1)) - 1

# The whole benchmark: the long-lived tree and array, then the tree construction.
cdef void benchmark(Mutator m, Params* p) noexcept nogil:
    cdef int depth
    cdef int64_t i, iters
    cdef double* values
    alloc_node(m, R_LONG_TREE, 0)
    populate(m, p, p.long_lived_depth, R_LONG_TREE)
    op_alloc(m, R_ARRAY, 0, <uint32_t>(8 + p.array_len * 8))   # length + values
    for i in range(p.array_len // 2):
        if i & (PREEMPT_EVERY - 1) == 0:
            # a thread stops here when asked (filling Whippet's 500,000 doubles is about a
            # third of a millisecond without a safepoint: time to safepoint for the others)
            op_preempt_point(m)
            values = (<double*>op_payload(m, R_ARRAY)) + 1
        values[i] = 1.0 / i if i > 0 else 0.0
    op_tick(m)
    depth = p.min_depth
    while depth <= p.max_depth:
        iters = 2 * tree_size(p.max_depth + 2) // tree_size(depth)
        for i in range(iters):
            alloc_node(m, R_TEMP, 0)
            populate(m, p, depth, R_TEMP)
            op_drop(m, R_TEMP, True)
        for i in range(iters):
            make_tree(m, p, depth, R_TEMP)
            op_drop(m, R_TEMP, True)
        depth += 2

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    benchmark(p.heap, p)

# ---------------------------------------------------------------------------
# threads > 1: the same benchmark on each of N mutator threads.

ctypedef struct ThreadParams:
    MutatorThread* m
    Params p                         # the benchmark's parameters and this thread's counters
    int index                        # 0..threads-1: globals 2*index and 2*index + 1
    bint blocks                      # this thread first waits block_ms outside the heap

cdef void thread_kernel(void* arg) noexcept nogil:
    cdef ThreadParams* t = <ThreadParams*>arg
    cdef MutatorThread* m = t.m
    cdef timespec pause
    if t.blocks and t.p.block_ms > 0:
        mt_blocked_enter(m)
        pause.tv_sec = t.p.block_ms // 1000
        pause.tv_nsec = (t.p.block_ms % 1000) * 1000000
        nanosleep(&pause, NULL)
        mt_blocked_leave(m)
    benchmark(m, &t.p)
    mt_set_global(m, 2 * t.index, R_LONG_TREE)
    mt_set_global(m, 2 * t.index + 1, R_ARRAY)

ctypedef struct ThreadedRun:
    HeapState* heap
    MutatorGroup group

cdef void threaded_kernel(void* arg) noexcept nogil:
    cdef ThreadedRun* run = <ThreadedRun*>arg
    mt_run_threads(run.heap, run.group.n, run.group.threads, thread_kernel, run.group.args)

cdef dict run_threads(ManagedHeap heap, Params* p, int nthreads):
    cdef ThreadedRun run
    cdef ThreadParams* params
    cdef int i
    run.heap = heap.state
    mt_group_init(&run.group, nthreads)
    params = <ThreadParams*>calloc(nthreads, sizeof(ThreadParams))
    try:
        if params == NULL:
            raise MemoryError()
        for i in range(nthreads):
            params[i].m = &run.group.threads[i]
            params[i].p = p[0]
            params[i].index = i
            params[i].blocks = i == nthreads - 1
            run.group.args[i] = &params[i]
        run_kernel(heap, threaded_kernel, &run)
        return {"hole_objects": sum(params[i].p.hole_objects for i in range(nthreads)),
                "hole_bytes": sum(params[i].p.hole_bytes for i in range(nthreads)),
                **mt_group_figures(&run.group)}
    finally:
        mt_group_free(&run.group)
        free(params)


def run(ManagedHeap heap, dict params, uint64_t seed):
    """Run mt-gcbench on `heap`.  The seed is unused: the benchmark is deterministic."""
    cdef Params p
    p.heap = heap.state
    p.long_lived_depth = params["long_lived_depth"]
    p.array_len = params["array_len"]
    p.min_depth = params["min_depth"]
    p.max_depth = params["max_depth"]
    p.holes = params["holes"]
    p.block_ms = params["block_ms"]
    p.counter = 0
    p.hole_objects = p.hole_bytes = 0
    if p.min_depth > p.max_depth:
        raise ValueError("min_depth must not exceed max_depth")
    if 8 + p.array_len * 8 > 0xFFFFFF00:
        raise ValueError("array_len too large for one object")
    if 2 * (max(p.max_depth, p.long_lived_depth) + 2) + R_TEMP + 2 > 256:
        raise ValueError("max_depth too large for the mutator's stack slots")
    if params["threads"] > 1:
        if 2 * params["threads"] > MAX_GLOBALS:
            raise ValueError(f"threads must be at most {MAX_GLOBALS // 2}")
        return run_threads(heap, &p, params["threads"])
    run_kernel(heap, kernel, &p)
    return {"hole_objects": p.hole_objects, "hole_bytes": p.hole_bytes}
