# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""binary-trees: the GCBench shape (Ellis, Kovac, Boehm).

A stretch tree of depth max_depth + 2 is built and dropped; a long-lived tree of
`long_lived_depth` and a long-lived array of `array_len` scalars stay alive; then, for
each depth d from min_depth to max_depth in steps of 2, GCBench's number of trees,
2 * TreeSize(stretch) / TreeSize(d), is built top-down (Populate) and as many bottom-up
(MakeTree).  A node has two pointer slots and 8 payload bytes (GCBench's i and j).

Temporaries live in the mutator's stack slots, so a collection at any allocation sees
every node under construction.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport HeapState, ManagedHeap, run_kernel
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_load, mut_clear, mut_drop, mut_set_global,
                                   mut_payload, mut_tick)

NAME = "binary-trees"
DESCRIPTION = "GCBench: long-lived tree and array, many short-lived trees built top-down and bottom-up"
PARAMS = (
    {"name": "long_lived_depth", "type": "int", "default": 16, "min": 0, "max": 24,
     "help": "depth of the tree that stays alive for the whole run"},
    {"name": "array_len", "type": "int", "default": 500000, "min": 0, "max": 100_000_000,
     "help": "scalars (8 bytes each) in the long-lived array"},
    {"name": "min_depth", "type": "int", "default": 4, "min": 0, "max": 24,
     "help": "depth of the smallest short-lived trees"},
    {"name": "max_depth", "type": "int", "default": 16, "min": 0, "max": 24,
     "help": "depth of the largest short-lived trees (the stretch tree is max_depth + 2)"},
)

cdef enum:
    NODE_SLOTS = 2
    NODE_PAYLOAD = 8
    R_LONG_TREE = 0
    R_ARRAY = 1
    R_TEMP = 2          # first register of the recursive builders

ctypedef struct Params:
    HeapState* heap
    int long_lived_depth
    int64_t array_len
    int min_depth
    int max_depth

cdef inline void init_node(HeapState* heap, int r, int depth) noexcept nogil:
    # GCBench's Node(i, j): touch the payload so nodes are not just headers
    (<int*>mut_payload(heap, r))[0] = depth

# Build the children of the node in stack[r], `depth` levels, top-down.
cdef void populate(HeapState* heap, int depth, int r) noexcept nogil:
    if depth <= 0:
        return
    depth -= 1
    mut_alloc(heap, r + 1, NODE_SLOTS, NODE_PAYLOAD)
    init_node(heap, r + 1, depth)
    mut_store(heap, r, 0, r + 1)
    mut_alloc(heap, r + 1, NODE_SLOTS, NODE_PAYLOAD)
    init_node(heap, r + 1, depth)
    mut_store(heap, r, 1, r + 1)
    mut_load(heap, r + 1, r, 0)
    populate(heap, depth, r + 1)
    mut_load(heap, r + 1, r, 1)
    populate(heap, depth, r + 1)
    mut_clear(heap, r + 1)

# stack[r] := a tree of `depth` levels, built bottom-up (children first).
cdef void make_tree(HeapState* heap, int depth, int r) noexcept nogil:
    if depth <= 0:
        mut_alloc(heap, r, NODE_SLOTS, NODE_PAYLOAD)
        init_node(heap, r, 0)
        return
    make_tree(heap, depth - 1, r + 1)
    make_tree(heap, depth - 1, r + 2)
    mut_alloc(heap, r, NODE_SLOTS, NODE_PAYLOAD)
    init_node(heap, r, depth)
    mut_store(heap, r, 0, r + 1)
    mut_store(heap, r, 1, r + 2)
    mut_clear(heap, r + 1)
    mut_clear(heap, r + 2)

cdef inline int64_t tree_size(int depth) noexcept nogil:
    return ((<int64_t>1) << (depth + 1)) - 1

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef int stretch = p.max_depth + 2
    cdef int depth
    cdef int64_t i, iters
    cdef double* array
    # stretch the heap
    make_tree(heap, stretch, R_TEMP)
    mut_drop(heap, R_TEMP, True)
    # long-lived data, reachable from globals as well as the stack
    mut_alloc(heap, R_LONG_TREE, NODE_SLOTS, NODE_PAYLOAD)
    populate(heap, p.long_lived_depth, R_LONG_TREE)
    mut_set_global(heap, 0, R_LONG_TREE)
    mut_alloc(heap, R_ARRAY, 0, <uint32_t>(p.array_len * 8))
    array = <double*>mut_payload(heap, R_ARRAY)
    for i in range(p.array_len // 2):
        array[i] = 1.0 / (i + 1)
    mut_tick(heap)
    mut_set_global(heap, 1, R_ARRAY)
    # short-lived trees
    depth = p.min_depth
    while depth <= p.max_depth:
        iters = 2 * tree_size(stretch) // tree_size(depth)
        for i in range(iters):
            mut_alloc(heap, R_TEMP, NODE_SLOTS, NODE_PAYLOAD)
            populate(heap, depth, R_TEMP)
            mut_drop(heap, R_TEMP, True)
        for i in range(iters):
            make_tree(heap, depth, R_TEMP)
            mut_drop(heap, R_TEMP, True)
        depth += 2
    # GCBench keeps the long-lived data alive to the end and checks it (re-read from its
    # stack slot: a moving collector has moved it since)
    array = <double*>mut_payload(heap, R_ARRAY)
    if p.array_len > 1000 and array[1000] != 1.0 / 1001:
        pass

def check_params(params):
    """What no single range says (checked before anything runs): (parameter, message) or None."""
    if params["min_depth"] > params["max_depth"]:
        return "min_depth", f"{params['min_depth']} exceeds max_depth ({params['max_depth']})"
    if 2 * (params["max_depth"] + 2) + R_TEMP + 2 > 256:
        return "max_depth", "too large for the mutator's stack slots"
    return None


def run(ManagedHeap heap, dict params, uint64_t seed):
    """Run GCBench on `heap`.  The seed is unused: GCBench is deterministic."""
    cdef Params p
    p.heap = heap.state
    p.long_lived_depth = params["long_lived_depth"]
    p.array_len = params["array_len"]
    p.min_depth = params["min_depth"]
    p.max_depth = params["max_depth"]
    problem = check_params(params)
    if problem is not None:
        raise ValueError(f"{problem[0]}: {problem[1]}")
    run_kernel(heap, kernel, &p)
