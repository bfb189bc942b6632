# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""python-heap: the live object graph of this CPython process, rebuilt and churned.

Setup (Python, with the GIL: reading another heap is not the hot path): import
`modules`, then walk the process's objects: start from gc.get_objects() (every object
the cycle collector tracks) and follow gc.get_referents() transitively, so untracked
referents (strings, ints, floats, exact tuples of atoms) are nodes too.  Each node
becomes one object with as many pointer slots as it has referents in the graph, in
order, and a payload of sys.getsizeof(obj) - 8 * slots bytes (at least 0, at most
`max_object_bytes`), so the rebuilt heap has CPython's sizes and out-degrees.  Roots:
the nodes nothing in the graph refers to (module-level objects referenced from C, the
interpreter's own lists), plus one node of every remaining cycle not reached from them,
so that the whole graph stays reachable.  The walk's own lists and dicts are left out.
The arrays (sizes, slot counts, CSR edge lists, roots) are flat numpy arrays.

Kernel (nogil): allocate every node into an index table (a heap array behind global 0),
write every edge through the write barrier, store the roots in a root array behind
global 1, drop the index, then churn: `churn_ops` short-lived objects of drawn sizes,
kept in a ring of `churn_live` (global 2) with slot 0 pointing at another ring member.
Every cycle then marks a real object graph that nobody here designed: deep module
dictionaries, long tuples of names, type hierarchies, bytecode constants.

The graph is the process's own, so it depends on the Python version and on what the
process had imported; replays of a recorded trace are exact (`gcbench record`).
"""
import gc
import importlib
import sys

import numpy as np

from libc.stdint cimport uint32_t, uint64_t, int64_t, int32_t
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, run_kernel
from gcbench_core.mutator cimport mut_alloc, mut_store, mut_load, mut_clear, mut_set_global
from gcbench_core.rng cimport Rng, rng_seed, rng_below
from gcbench_core.dist cimport Dist, dist_set, dist_sample
from gcbench_core.distspec import dist_params, dist_args

NAME = "python-heap"
DESCRIPTION = "this CPython process's object graph (gc.get_objects/get_referents) rebuilt as the live heap, then churned"
DEFAULT_MODULES = "json,email.parser,http.client,xml.dom.minidom,decimal,argparse,logging,unittest,asyncio"
PARAMS = (
    {"name": "modules", "type": "str", "default": DEFAULT_MODULES,
     "help": "comma-separated modules to import before the graph is read"},
    {"name": "max_object_bytes", "type": "int", "default": 1 << 20, "min": 64, "max": 1 << 28,
     "help": "cap on one rebuilt object's size (a huge str or bytes becomes this big)"},
    {"name": "churn_ops", "type": "int", "default": 2000000, "min": 0, "max": 10_000_000_000,
     "help": "short-lived allocations after the graph is built"},
    {"name": "churn_live", "type": "int", "default": 10000, "min": 1, "max": 100_000_000,
     "help": "short-lived objects alive at once (a ring)"},
    *dist_params("slots", "pointer slots", 0, 2, limit=1024, per="churn object"),
    *dist_params("payload", "payload bytes", 16, 128, per="churn object"),
)
RESULT_KEYS = ("python_objects", "python_edges", "python_roots", "python_graph_bytes")

cdef enum:
    R_TABLE = 0
    R_NEW = 1
    R_A = 2
    R_B = 3
    R_ROOTS = 4
    R_RING = 5
    R_NULL = 6           # never written: stores null into a global
    G_TABLE = 0
    G_ROOTS = 1
    G_RING = 2


def python_object_graph(modules, max_object_bytes=1 << 20):
    """Import `modules` and read this process's object graph.

    Returns a dict of numpy arrays: payload (uint32), slots (uint32), offsets (int64,
    CSR: node i's referents are targets[offsets[i]:offsets[i+1]]), targets (int32),
    roots (int32).
    """
    for name in [m.strip() for m in modules.split(",") if m.strip()]:
        try:
            importlib.import_module(name)
        except Exception as exc:          # any import failure is the user's module list
            raise ValueError(f"cannot import module {name!r}: {exc}") from None
    gc.collect()
    start = gc.get_objects()
    nodes = []
    index = {}
    targets = []
    offsets = [0]
    # the walk's own containers are not part of the process's graph
    skip = {id(start), id(nodes), id(index), id(targets), id(offsets)}
    for obj in start:
        if id(obj) not in index:
            index[id(obj)] = len(nodes)
            nodes.append(obj)
    get_referents = gc.get_referents
    i = 0
    while i < len(nodes):
        for ref in get_referents(nodes[i]):
            rid = id(ref)
            if rid in skip:
                continue
            j = index.get(rid)
            if j is None:
                j = len(nodes)
                index[rid] = j
                nodes.append(ref)
            targets.append(j)
        offsets.append(len(targets))
        i += 1
    n = len(nodes)
    offsets = np.asarray(offsets, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int32)
    slots = np.diff(offsets).astype(np.uint32)
    sizes = np.fromiter((sys.getsizeof(o) for o in nodes), dtype=np.int64, count=n)
    payload = np.minimum(sizes - 8 * slots.astype(np.int64), max_object_bytes - 8 - 8 * slots.astype(np.int64))
    payload = payload.clip(0, None)
    del nodes, index, start
    # roots: in-degree 0, then one representative per unreached cycle (in node order)
    indegree = np.bincount(targets, minlength=n)
    roots = list(np.flatnonzero(indegree == 0))
    reached = np.zeros(n, dtype=bool)
    off = offsets.tolist()
    tgt = targets.tolist()
    def mark_from(r):
        stack = [r]
        reached[r] = True
        while stack:
            v = stack.pop()
            for k in range(off[v], off[v + 1]):
                w = tgt[k]
                if not reached[w]:
                    reached[w] = True
                    stack.append(w)
    for r in roots:
        mark_from(r)
    for v in np.flatnonzero(~reached).tolist():
        if not reached[v]:
            roots.append(v)
            mark_from(v)
    return {"payload": payload.astype(np.uint32), "slots": slots, "offsets": offsets,
            "targets": targets, "roots": np.asarray(roots, dtype=np.int32)}


ctypedef struct Params:
    HeapState* heap
    int64_t nodes
    const uint32_t* payload
    const uint32_t* slots
    const int64_t* offsets
    const int32_t* targets
    int64_t nroots
    const int32_t* roots
    int64_t churn_ops
    int64_t churn_live
    Dist churn_slots
    Dist churn_payload
    uint64_t seed

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t i, e, step
    cdef uint32_t k, nslots
    rng_seed(&rng, p.seed)
    # 1. every node, held by the index table while the edges are written
    mut_alloc(heap, R_TABLE, <uint32_t>p.nodes, 0)
    mut_set_global(heap, G_TABLE, R_TABLE)
    for i in range(p.nodes):
        mut_alloc(heap, R_NEW, p.slots[i], p.payload[i])
        mut_store(heap, R_TABLE, <uint32_t>i, R_NEW)
    mut_clear(heap, R_NEW)
    # 2. every edge, through the write barrier
    for i in range(p.nodes):
        if p.slots[i] == 0:
            continue
        mut_load(heap, R_A, R_TABLE, <uint32_t>i)
        k = 0
        for e in range(p.offsets[i], p.offsets[i + 1]):
            mut_load(heap, R_B, R_TABLE, <uint32_t>p.targets[e])
            mut_store(heap, R_A, k, R_B)
            k += 1
    mut_clear(heap, R_A)
    mut_clear(heap, R_B)
    # 3. the roots keep the graph; the index goes
    mut_alloc(heap, R_ROOTS, <uint32_t>p.nroots, 0)
    mut_set_global(heap, G_ROOTS, R_ROOTS)
    for i in range(p.nroots):
        mut_load(heap, R_A, R_TABLE, <uint32_t>p.roots[i])
        mut_store(heap, R_ROOTS, <uint32_t>i, R_A)
    mut_clear(heap, R_A)
    mut_clear(heap, R_ROOTS)
    mut_set_global(heap, G_TABLE, R_NULL)
    mut_clear(heap, R_TABLE)
    # 4. churn: short-lived objects around the long-lived graph
    mut_alloc(heap, R_RING, <uint32_t>p.churn_live, 0)
    mut_set_global(heap, G_RING, R_RING)
    for step in range(p.churn_ops):
        nslots = dist_sample(&p.churn_slots, &rng)
        mut_alloc(heap, R_NEW, nslots, dist_sample(&p.churn_payload, &rng))
        if nslots > 0:
            mut_load(heap, R_A, R_RING, <uint32_t>rng_below(&rng, p.churn_live))
            mut_store(heap, R_NEW, 0, R_A)
            mut_clear(heap, R_A)
        mut_store(heap, R_RING, <uint32_t>rng_below(&rng, p.churn_live), R_NEW)
    mut_clear(heap, R_NEW)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    if heap.state.collector.drop != NULL:
        raise ValueError("python-heap's graph has cycles and shared objects (and its churn ring points "
                         "between members), so a collector that frees on drop (malloc) cannot know when "
                         "an object dies")
    graph = python_object_graph(params["modules"], params["max_object_bytes"])
    cdef const uint32_t[::1] payload = graph["payload"]
    cdef const uint32_t[::1] slots = graph["slots"]
    cdef const int64_t[::1] offsets = graph["offsets"]
    cdef const int32_t[::1] targets = graph["targets"]
    cdef const int32_t[::1] roots = graph["roots"]
    p.heap = heap.state
    p.nodes = payload.shape[0]
    p.payload = &payload[0]
    p.slots = &slots[0]
    p.offsets = &offsets[0]
    p.targets = &targets[0] if targets.shape[0] else NULL
    p.nroots = roots.shape[0]
    p.roots = &roots[0]
    p.churn_ops = params["churn_ops"]
    p.churn_live = params["churn_live"]
    dist_set(&p.churn_slots, dist_args(params, "slots"))
    dist_set(&p.churn_payload, dist_args(params, "payload"))
    p.seed = seed
    run_kernel(heap, kernel, &p)
    # python_graph_bytes: requested bytes (header + slots + payload) of the rebuilt graph
    return {"python_objects": int(p.nodes), "python_edges": int(targets.shape[0]),
            "python_roots": int(p.nroots),
            "python_graph_bytes": int((8 + 8 * graph["slots"].astype(np.int64) + graph["payload"]).sum())}
