# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""trace-replay: execute a recorded or hand-written operation trace.

Each record is one mutator operation, performed with the same mutator.pxd operation the
original workload used, so a replay allocates the same objects in the same order, takes
the same write barriers and reaches the same safepoints: under the same collector, heap
and GOGC it has the same alloc_count and the same live bytes at every cycle.  After each
`gc` record (a full collection to completion, as runtime.GC()), the objects and bytes
still in use are recorded: with a collector that collects, exactly what the roots reach
(`gc_live_objects`, `gc_live_bytes`).

`check_trace` is the validation pre-pass, run before anything executes: it replays the
trace on a shadow graph (object ids and slot arrays in C memory, no heap) to prove that
every store and load goes through a non-null root and an existing slot, and that every
`drop` names an object nothing else refers to (counted references from roots, globals and
slots; with `all`, the same for everything it reaches: only what dies may point into it), so the replay
kernel itself needs no checks and malloc's free() of a dropped object is never premature.
A `drop` replays as mut_drop: malloc frees, every other collector clears the root.

The trace arrives as data: the harness reads the file (tracetext.parse for text, the
binary header for binary) and passes params["path"] as {"records": TRACE_DTYPE array,
"roots": N, "globals": N}; `run` validates it again with check_trace before replaying,
so no trace reaches the kernel unchecked.  It never imports the harness (gcbench/).
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from gcbench_core.heap cimport (HeapState, ManagedHeap, run_kernel, TraceRecord, heap_in_use_exact,
                                TRACE_ALLOC, TRACE_STORE, TRACE_LOAD, TRACE_CLEAR, TRACE_GC,
                                TRACE_GSET, TRACE_GGET, TRACE_TICK, TRACE_NULL, TRACE_DROP,
                                TRACE_RECURSIVE, MAX_STACK_SLOTS, MAX_GLOBALS)
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_store_null, mut_load, mut_clear, mut_drop,
                                   mut_set_global, mut_get_global, mut_tick, mut_record,
                                   mut_safepoint)

import numpy as np
from gcbench_core.heap import TRACE_DTYPE

NAME = "trace-replay"
DESCRIPTION = "replay an operation trace (`gcbench run --trace FILE`; write one with `gcbench record`)"
PARAMS = (
    # type "trace": a file name in the configuration; the harness hands run() the loaded
    # trace ({"records", "roots", "globals"}) in its place
    {"name": "path", "type": "trace", "default": "",
     "help": "trace file, text or binary (gcbench run --trace FILE sets it)"},
)
RESULT_KEYS = ("trace_ops", "gc_live_objects", "gc_live_bytes")

# ---------------------------------------------------------------------------
# Validation pre-pass

cdef enum:
    BAD_NONE = 0
    BAD_OP = 1              # v1 = op code
    BAD_ROOT = 2            # v1 = root
    BAD_GLOBAL = 3          # v1 = global
    BAD_NULL_ROOT = 4       # v1 = root (store/load through it)
    BAD_SLOT = 5            # v1 = slot, v2 = the object's slots, v3 = root
    BAD_SIZE = 6            # v1 = slots, v2 = payload
    BAD_TICK = 7
    BAD_FLAGS = 8           # v1 = flags
    BAD_DROP_SHARED = 9     # v1 = root, v2 = other references to the dropped object
    BAD_DROP_OWNED = 10     # v1 = root, v2 = other references to an object it owns

ctypedef struct Check:
    const TraceRecord* records
    int64_t n
    int roots
    int nglobals
    int64_t* obj_base       # per object: index of its first slot in slot_val
    int64_t* slot_val       # object id held by each slot, -1 = null
    int32_t* refs           # per object: references to it from roots, globals and slots
    int64_t* pending        # the objects a drop reaches
    int64_t* seen           # per object: the record index of the last drop that reached it
    int64_t bad_index
    int bad_kind
    int64_t v1, v2, v3
    int64_t gc_ops

cdef inline bint root_ok(Check* c, int64_t r) noexcept nogil:
    return r < c.roots

# A reference moves from object `old` to object `new` (-1: null): the counts drops check.
cdef inline void ref_move(Check* c, int64_t old, int64_t new) noexcept nogil:
    if old >= 0:
        c.refs[old] -= 1
    if new >= 0:
        c.refs[new] += 1

# root r's object `obj` dies, and with `recursive` everything it reaches: 0 when nothing
# outside what dies refers to any of it (the root's own reference aside), else
# BAD_DROP_SHARED or BAD_DROP_OWNED with c.v2 = the outside references.  `stamp` marks
# what this drop reaches (c.seen).  What dies loses its references to what it pointed to.
cdef int check_drop(Check* c, int64_t obj, bint recursive, int64_t stamp) noexcept nogil:
    cdef int64_t n = 1, j = 0, o, s, child
    if c.refs[obj] != 1:
        c.v2 = c.refs[obj] - 1
        return BAD_DROP_SHARED
    c.pending[0] = obj
    c.seen[obj] = stamp
    while j < n:
        o = c.pending[j]
        j += 1
        for s in range(c.obj_base[o], c.obj_base[o + 1]):
            child = c.slot_val[s]
            if child < 0:
                continue
            c.refs[child] -= 1
            if recursive and c.seen[child] != stamp:
                c.seen[child] = stamp
                c.pending[n] = child
                n += 1
    c.refs[obj] -= 1                 # the root's
    for j in range(n):
        if c.refs[c.pending[j]] != 0:
            c.v2 = c.refs[c.pending[j]]
            return BAD_DROP_SHARED if c.pending[j] == obj else BAD_DROP_OWNED
    return BAD_NONE

cdef int check_records(Check* c) noexcept nogil:
    cdef int64_t root_val[MAX_STACK_SLOTS]
    cdef int64_t global_val[MAX_GLOBALS]
    cdef int64_t i, obj, nobjects = 0, nslots, value
    cdef const TraceRecord* rec
    cdef int kind
    for i in range(MAX_STACK_SLOTS):
        root_val[i] = -1
    for i in range(MAX_GLOBALS):
        global_val[i] = -1
    c.obj_base[0] = 0
    for i in range(c.n):
        rec = &c.records[i]
        kind = BAD_NONE
        if rec.flags != 0 and not (rec.op == TRACE_STORE and rec.flags == TRACE_NULL) \
                and not (rec.op == TRACE_DROP and rec.flags == TRACE_RECURSIVE):
            kind = BAD_FLAGS
            c.v1 = rec.flags
        elif rec.op == TRACE_ALLOC:
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            elif 8 + 8 * <uint64_t>rec.x + rec.y > <uint64_t>0xFFFFFFFF:
                kind = BAD_SIZE
                c.v1 = rec.x
                c.v2 = rec.y
            else:
                c.refs[nobjects] = 0
                ref_move(c, root_val[rec.a], nobjects)
                root_val[rec.a] = nobjects
                c.obj_base[nobjects + 1] = c.obj_base[nobjects] + rec.x
                memset(c.slot_val + c.obj_base[nobjects], 0xFF, rec.x * sizeof(int64_t))
                nobjects += 1
        elif rec.op == TRACE_STORE or rec.op == TRACE_LOAD:
            # store: root a holds the object written; load: root b holds the object read
            obj = root_val[rec.a] if rec.op == TRACE_STORE else -2
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            elif not (rec.op == TRACE_STORE and rec.flags == TRACE_NULL) and not root_ok(c, rec.b):
                kind = BAD_ROOT
                c.v1 = rec.b
            else:
                if rec.op == TRACE_LOAD:
                    obj = root_val[rec.b]
                if obj < 0:
                    kind = BAD_NULL_ROOT
                    c.v1 = rec.a if rec.op == TRACE_STORE else rec.b
                else:
                    nslots = c.obj_base[obj + 1] - c.obj_base[obj]
                    if rec.x >= nslots:
                        kind = BAD_SLOT
                        c.v1 = rec.x
                        c.v2 = nslots
                        c.v3 = rec.a if rec.op == TRACE_STORE else rec.b
                    elif rec.op == TRACE_STORE:
                        value = -1 if rec.flags == TRACE_NULL else root_val[rec.b]
                        ref_move(c, c.slot_val[c.obj_base[obj] + rec.x], value)
                        c.slot_val[c.obj_base[obj] + rec.x] = value
                    else:
                        ref_move(c, root_val[rec.a], c.slot_val[c.obj_base[obj] + rec.x])
                        root_val[rec.a] = c.slot_val[c.obj_base[obj] + rec.x]
        elif rec.op == TRACE_CLEAR:
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            else:
                ref_move(c, root_val[rec.a], -1)
                root_val[rec.a] = -1
        elif rec.op == TRACE_DROP:
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            else:
                if root_val[rec.a] >= 0:
                    kind = check_drop(c, root_val[rec.a], rec.flags == TRACE_RECURSIVE, i)
                    c.v1 = rec.a
                root_val[rec.a] = -1
        elif rec.op == TRACE_GC:
            c.gc_ops += 1
        elif rec.op == TRACE_GSET:
            if rec.a >= c.nglobals:
                kind = BAD_GLOBAL
                c.v1 = rec.a
            elif not root_ok(c, rec.b):
                kind = BAD_ROOT
                c.v1 = rec.b
            else:
                ref_move(c, global_val[rec.a], root_val[rec.b])
                global_val[rec.a] = root_val[rec.b]
        elif rec.op == TRACE_GGET:
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            elif rec.b >= c.nglobals:
                kind = BAD_GLOBAL
                c.v1 = rec.b
            else:
                ref_move(c, root_val[rec.a], global_val[rec.b])
                root_val[rec.a] = global_val[rec.b]
        elif rec.op == TRACE_TICK:
            if rec.x == 0:
                kind = BAD_TICK
        else:
            kind = BAD_OP
            c.v1 = rec.op
        if kind != BAD_NONE:
            c.bad_kind = kind
            c.bad_index = i
            return 1
    return 0


def check_trace(records, int roots, int nglobals):
    """Validate `records` (TRACE_DTYPE array) for `roots` roots and `nglobals` globals.

    Returns (gc_ops, None) when valid, else (record index, message)."""
    cdef const uint8_t[::1] raw = np.ascontiguousarray(records).view(np.uint8).reshape(-1)
    cdef Check c
    cdef int bad
    ops = records["op"]
    alloc_mask = ops == TRACE_ALLOC
    nobjects = int(alloc_mask.sum())
    total_slots = int(records["x"][alloc_mask].astype(np.int64).sum())
    if roots < 1 or roots > MAX_STACK_SLOTS:
        return 0, f"roots must be in [1, {MAX_STACK_SLOTS}], got {roots}"
    if nglobals < 0 or nglobals > MAX_GLOBALS:
        return 0, f"globals must be in [0, {MAX_GLOBALS}], got {nglobals}"
    memset(&c, 0, sizeof(Check))
    c.records = <const TraceRecord*>&raw[0] if raw.shape[0] else NULL
    c.n = records.shape[0]
    c.roots = roots
    c.nglobals = nglobals
    c.obj_base = <int64_t*>malloc((nobjects + 1) * sizeof(int64_t))
    c.slot_val = <int64_t*>malloc(max(total_slots, 1) * sizeof(int64_t))
    c.refs = <int32_t*>malloc(max(nobjects, 1) * sizeof(int32_t))
    c.pending = <int64_t*>malloc(max(nobjects, 1) * sizeof(int64_t))
    c.seen = <int64_t*>malloc(max(nobjects, 1) * sizeof(int64_t))
    if c.obj_base == NULL or c.slot_val == NULL or c.refs == NULL or c.pending == NULL or c.seen == NULL:
        free(c.obj_base)
        free(c.slot_val)
        free(c.refs)
        free(c.pending)
        free(c.seen)
        raise MemoryError(f"cannot validate a trace of {nobjects} objects and {total_slots} slots")
    memset(c.seen, 0xFF, max(nobjects, 1) * sizeof(int64_t))
    try:
        with nogil:
            bad = check_records(&c)
    finally:
        free(c.obj_base)
        free(c.slot_val)
        free(c.refs)
        free(c.pending)
        free(c.seen)
    if not bad:
        return int(c.gc_ops), None
    messages = {
        BAD_OP: lambda: f"unknown operation code {c.v1}",
        BAD_ROOT: lambda: f"root {c.v1} out of range (roots {roots}: 0..{roots - 1})",
        BAD_GLOBAL: lambda: f"global {c.v1} out of range (globals {nglobals}" + (f": 0..{nglobals - 1})" if nglobals else "; declare them with `globals N`)"),
        BAD_NULL_ROOT: lambda: f"{'store' if records['op'][c.bad_index] == TRACE_STORE else 'load'} through null root {c.v1}",
        BAD_SLOT: lambda: f"slot {c.v1} out of range: the object in root {c.v3} has {c.v2} slot{'s' if c.v2 != 1 else ''}",
        BAD_SIZE: lambda: f"object too large: {c.v1} slots and {c.v2} payload bytes exceed 4 GiB",
        BAD_TICK: lambda: "tick count must be at least 1",
        BAD_FLAGS: lambda: f"invalid flags {c.v1}",
        BAD_DROP_SHARED: lambda: f"drop of root {c.v1}: its object is still referenced {c.v2} more time{'s' if c.v2 != 1 else ''} (a dropped object must be referenced only by that root)",
        BAD_DROP_OWNED: lambda: f"drop {c.v1} all: an object it owns is referenced {c.v2} more time{'s' if c.v2 != 1 else ''} (`all` drops everything the object reaches, so nothing else may point into it)",
    }
    return int(c.bad_index), messages[c.bad_kind]()


# ---------------------------------------------------------------------------
# Replay

ctypedef struct Replay:
    HeapState* heap
    const TraceRecord* records
    int64_t n
    int64_t* live_objects       # one entry per gc record
    int64_t* live_bytes

cdef void kernel(void* arg) noexcept nogil:
    cdef Replay* p = <Replay*>arg
    cdef HeapState* heap = p.heap
    cdef const TraceRecord* rec
    cdef int64_t i, g = 0
    cdef uint32_t t
    for i in range(p.n):
        rec = &p.records[i]
        if rec.op == TRACE_ALLOC:
            mut_alloc(heap, rec.a, rec.x, rec.y)
        elif rec.op == TRACE_STORE:
            if rec.flags == TRACE_NULL:
                mut_store_null(heap, rec.a, rec.x)
            else:
                mut_store(heap, rec.a, rec.x, rec.b)
        elif rec.op == TRACE_LOAD:
            mut_load(heap, rec.a, rec.b, rec.x)
        elif rec.op == TRACE_CLEAR:
            mut_clear(heap, rec.a)
        elif rec.op == TRACE_DROP:
            mut_drop(heap, rec.a, rec.flags == TRACE_RECURSIVE)
        elif rec.op == TRACE_GC:
            # mut_gc, with the live set read between the collection and the safepoint
            mut_record(heap, TRACE_GC, 0, 0, 0, 0, 0)
            heap.collector.collect(heap)
            p.live_bytes[g] = heap_in_use_exact(heap, &p.live_objects[g])
            g += 1
            mut_safepoint(heap)
        elif rec.op == TRACE_GSET:
            mut_set_global(heap, rec.a, rec.b)
        elif rec.op == TRACE_GGET:
            mut_get_global(heap, rec.a, rec.b)
        elif rec.op == TRACE_TICK:
            for t in range(rec.x):
                mut_tick(heap)

def run(ManagedHeap heap, dict params, uint64_t seed):
    """Replay params["path"]: a loaded trace {"records", "roots", "globals"}."""
    cdef Replay p
    trace = params["path"]
    if not trace:
        raise ValueError("no trace given: use `gcbench run --trace FILE` (or --param path=FILE)")
    records = np.ascontiguousarray(trace["records"], dtype=TRACE_DTYPE)
    gc_ops, problem = check_trace(records, trace["roots"], trace["globals"])
    if problem is not None:
        raise ValueError(f"record {gc_ops + 1}: {problem}")
    cdef const uint8_t[::1] raw = records.view(np.uint8).reshape(-1)
    live_objects = np.zeros(max(gc_ops, 1), dtype=np.int64)
    live_bytes = np.zeros(max(gc_ops, 1), dtype=np.int64)
    cdef int64_t[::1] lo = live_objects
    cdef int64_t[::1] lb = live_bytes
    p.heap = heap.state
    p.records = <const TraceRecord*>&raw[0] if raw.shape[0] else NULL
    p.n = records.shape[0]
    p.live_objects = &lo[0]
    p.live_bytes = &lb[0]
    run_kernel(heap, kernel, &p)
    return {"trace_ops": int(p.n),
            "gc_live_objects": live_objects[:gc_ops].tolist(),
            "gc_live_bytes": live_bytes[:gc_ops].tolist()}
