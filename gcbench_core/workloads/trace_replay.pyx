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
trace on a shadow graph (object ids, slot counts and a hash table of the slots stored to,
in C memory, no heap: proportional to the trace, never to the slots it declares) to prove
that every store and load goes through a non-null root and an existing slot, that no
object exceeds MAX_OBJECT_BYTES, and that every `drop` names an object nothing else refers
to (counted references from roots, globals and slots; with `all`, the same for everything
it reaches: only what dies may point into it), so the replay kernel itself needs no checks
and malloc's free() of a dropped object is never premature.  It works in chunks and looks
for Ctrl-C between them.  A `drop` replays as mut_drop: malloc frees, every other
collector clears the root.

The trace arrives as data: the harness reads the file (tracetext.parse for text, the
binary header for binary) and passes params["path"] as {"records": TRACE_DTYPE array,
"roots": N, "globals": N}; `run` validates it again with check_trace before replaying,
so no trace reaches the kernel unchecked.  It never imports the harness (gcbench/).
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from cpython.exc cimport PyErr_CheckSignals
from libc.string cimport memset
from gcbench_core.heap cimport (HeapState, ManagedHeap, run_kernel, TraceRecord, heap_in_use_exact,
                                TRACE_ALLOC, TRACE_STORE, TRACE_LOAD, TRACE_CLEAR, TRACE_GC,
                                TRACE_GSET, TRACE_GGET, TRACE_TICK, TRACE_NULL, TRACE_DROP,
                                TRACE_RECURSIVE, MAX_STACK_SLOTS, MAX_GLOBALS, MAX_OBJECT_BYTES)
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
    {"name": "live_every_op", "type": "bool", "default": False,
     "help": "also record the objects in use after every operation (op_live_objects; for tests)"},
)
RESULT_KEYS = ("trace_ops", "gc_live_objects", "gc_live_bytes", "op_live_objects")

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
    int64_t next            # the next record to check (check_records works in chunks)
    int64_t nobjects
    uint32_t* obj_slots     # per object: its pointer-slot count
    uint64_t* slot_key      # the slots ever stored to: (object + 1) << 32 | slot, 0 = empty
    int64_t* slot_val       # the object id each holds, -1 = null
    uint64_t slot_mask      # the table's capacity - 1 (a power of two)
    int64_t* obj_head       # per object: its first stored slot's cell in the table, -1 = none
    int64_t* cell_next      # per cell: the next cell of the same object, -1 = none
    int32_t* refs           # per object: references to it from roots, globals and slots
    int64_t* pending        # the objects a drop reaches
    int64_t* seen           # per object: the record index of the last drop that reached it
    int64_t root_val[MAX_STACK_SLOTS]
    int64_t global_val[MAX_GLOBALS]
    int64_t bad_index
    int bad_kind
    int64_t v1, v2, v3
    int64_t gc_ops

# The shadow graph holds only the slots a store wrote (a hash table sized by the number
# of stores), so validating costs memory in proportion to the trace, never to the slot
# counts it declares: `alloc 0 100000000 0` is 12 bytes of trace and 12 bytes of checking.
cdef inline int64_t* slot_cell(Check* c, int64_t obj, uint32_t slot, bint insert) noexcept nogil:
    cdef uint64_t key = ((<uint64_t>obj + 1) << 32) | slot
    cdef uint64_t h = (key * <uint64_t>0x9E3779B97F4A7C15) >> 17
    while True:
        h &= c.slot_mask
        if c.slot_key[h] == key:
            return &c.slot_val[h]
        if c.slot_key[h] == 0:
            if not insert:
                return NULL
            c.slot_key[h] = key
            c.slot_val[h] = -1
            c.cell_next[h] = c.obj_head[obj]      # the object's stored slots, for drops
            c.obj_head[obj] = <int64_t>h
            return &c.slot_val[h]
        h += 1

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
    cdef int64_t n = 1, j = 0, o, cell, child
    if c.refs[obj] != 1:
        c.v2 = c.refs[obj] - 1
        return BAD_DROP_SHARED
    c.pending[0] = obj
    c.seen[obj] = stamp
    while j < n:
        o = c.pending[j]
        j += 1
        cell = c.obj_head[o]
        while cell >= 0:
            child = c.slot_val[cell]
            cell = c.cell_next[cell]
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

# Check records [c.next, stop); 1 at the first bad one (c.bad_*), else 0.
cdef int check_records(Check* c, int64_t stop) noexcept nogil:
    cdef int64_t i, obj, nslots, value
    cdef int64_t* cell
    cdef const TraceRecord* rec
    cdef int kind
    for i in range(c.next, stop):
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
            elif 8 + 8 * <uint64_t>rec.x + rec.y > MAX_OBJECT_BYTES:
                kind = BAD_SIZE
                c.v1 = rec.x
                c.v2 = rec.y
            else:
                c.refs[c.nobjects] = 0
                c.obj_head[c.nobjects] = -1
                ref_move(c, c.root_val[rec.a], c.nobjects)
                c.root_val[rec.a] = c.nobjects
                c.obj_slots[c.nobjects] = rec.x
                c.nobjects += 1
        elif rec.op == TRACE_STORE or rec.op == TRACE_LOAD:
            # store: root a holds the object written; load: root b holds the object read
            obj = c.root_val[rec.a] if rec.op == TRACE_STORE else -2
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            elif not (rec.op == TRACE_STORE and rec.flags == TRACE_NULL) and not root_ok(c, rec.b):
                kind = BAD_ROOT
                c.v1 = rec.b
            else:
                if rec.op == TRACE_LOAD:
                    obj = c.root_val[rec.b]
                if obj < 0:
                    kind = BAD_NULL_ROOT
                    c.v1 = rec.a if rec.op == TRACE_STORE else rec.b
                else:
                    nslots = c.obj_slots[obj]
                    if rec.x >= nslots:
                        kind = BAD_SLOT
                        c.v1 = rec.x
                        c.v2 = nslots
                        c.v3 = rec.a if rec.op == TRACE_STORE else rec.b
                    elif rec.op == TRACE_STORE:
                        value = -1 if rec.flags == TRACE_NULL else c.root_val[rec.b]
                        cell = slot_cell(c, obj, rec.x, True)
                        ref_move(c, cell[0], value)
                        cell[0] = value
                    else:
                        cell = slot_cell(c, obj, rec.x, False)
                        value = cell[0] if cell != NULL else -1
                        ref_move(c, c.root_val[rec.a], value)
                        c.root_val[rec.a] = value
        elif rec.op == TRACE_CLEAR:
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            else:
                ref_move(c, c.root_val[rec.a], -1)
                c.root_val[rec.a] = -1
        elif rec.op == TRACE_DROP:
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            else:
                if c.root_val[rec.a] >= 0:
                    kind = check_drop(c, c.root_val[rec.a], rec.flags == TRACE_RECURSIVE, i)
                    c.v1 = rec.a
                c.root_val[rec.a] = -1
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
                ref_move(c, c.global_val[rec.a], c.root_val[rec.b])
                c.global_val[rec.a] = c.root_val[rec.b]
        elif rec.op == TRACE_GGET:
            if not root_ok(c, rec.a):
                kind = BAD_ROOT
                c.v1 = rec.a
            elif rec.b >= c.nglobals:
                kind = BAD_GLOBAL
                c.v1 = rec.b
            else:
                ref_move(c, c.root_val[rec.a], c.global_val[rec.b])
                c.root_val[rec.a] = c.global_val[rec.b]
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
    c.next = stop
    return 0


# Records checked between two looks for Ctrl-C (a few milliseconds of work).
CHECK_CHUNK = 1 << 20


def check_trace(records, int roots, int nglobals):
    """Validate `records` (TRACE_DTYPE array) for `roots` roots and `nglobals` globals.

    Returns (gc_ops, None) when valid, else (record index, message).  Memory and time are
    proportional to the records; Ctrl-C raises KeyboardInterrupt between chunks."""
    cdef const uint8_t[::1] raw = np.ascontiguousarray(records).view(np.uint8).reshape(-1)
    cdef Check c
    cdef int bad = 0
    cdef int64_t stop, i
    ops = records["op"]
    nobjects = int(np.count_nonzero(ops == TRACE_ALLOC))
    nstores = int(np.count_nonzero(ops == TRACE_STORE))
    if roots < 1 or roots > MAX_STACK_SLOTS:
        return 0, f"roots must be in [1, {MAX_STACK_SLOTS}], got {roots}"
    if nglobals < 0 or nglobals > MAX_GLOBALS:
        return 0, f"globals must be in [0, {MAX_GLOBALS}], got {nglobals}"
    if nobjects >= 1 << 32:
        return 0, f"{nobjects} allocations: a trace allocates fewer than 2^32 objects"
    memset(&c, 0, sizeof(Check))
    for i in range(MAX_STACK_SLOTS):
        c.root_val[i] = -1
    for i in range(MAX_GLOBALS):
        c.global_val[i] = -1
    capacity = 16
    while capacity < 2 * nstores:
        capacity *= 2
    c.records = <const TraceRecord*>&raw[0] if raw.shape[0] else NULL
    c.n = records.shape[0]
    c.roots = roots
    c.nglobals = nglobals
    c.slot_mask = capacity - 1
    c.obj_slots = <uint32_t*>malloc(max(nobjects, 1) * sizeof(uint32_t))
    c.slot_key = <uint64_t*>calloc(capacity, sizeof(uint64_t))
    c.slot_val = <int64_t*>malloc(capacity * sizeof(int64_t))
    c.cell_next = <int64_t*>malloc(capacity * sizeof(int64_t))
    c.obj_head = <int64_t*>malloc(max(nobjects, 1) * sizeof(int64_t))
    c.refs = <int32_t*>malloc(max(nobjects, 1) * sizeof(int32_t))
    c.pending = <int64_t*>malloc(max(nobjects, 1) * sizeof(int64_t))
    c.seen = <int64_t*>malloc(max(nobjects, 1) * sizeof(int64_t))
    try:
        if (c.obj_slots == NULL or c.slot_key == NULL or c.slot_val == NULL or c.cell_next == NULL
                or c.obj_head == NULL or c.refs == NULL or c.pending == NULL or c.seen == NULL):
            raise MemoryError(f"cannot validate a trace of {c.n} records: out of memory")
        memset(c.seen, 0xFF, max(nobjects, 1) * sizeof(int64_t))
        while c.next < c.n and not bad:
            stop = min(c.next + CHECK_CHUNK, c.n)
            with nogil:
                bad = check_records(&c, stop)
            PyErr_CheckSignals()
    finally:
        free(c.obj_slots)
        free(c.cell_next)
        free(c.obj_head)
        free(c.refs)
        free(c.pending)
        free(c.seen)
        free(c.slot_key)
        free(c.slot_val)
    if not bad:
        return int(c.gc_ops), None
    messages = {
        BAD_OP: lambda: f"unknown operation code {c.v1}",
        BAD_ROOT: lambda: f"root {c.v1} out of range (roots {roots}: 0..{roots - 1})",
        BAD_GLOBAL: lambda: f"global {c.v1} out of range (globals {nglobals}" + (f": 0..{nglobals - 1})" if nglobals else "; declare them with `globals N`)"),
        BAD_NULL_ROOT: lambda: f"{'store' if records['op'][c.bad_index] == TRACE_STORE else 'load'} through null root {c.v1}",
        BAD_SLOT: lambda: f"slot {c.v1} out of range: the object in root {c.v3} has {c.v2} slot{'s' if c.v2 != 1 else ''}",
        BAD_SIZE: lambda: f"object too large: {c.v1} pointer slots and {c.v2} payload bytes make {8 + 8 * c.v1 + c.v2} bytes; an object is at most {MAX_OBJECT_BYTES} (1 GiB)",
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
    int64_t* op_live_objects    # one entry per record, or NULL

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
        elif rec.op == TRACE_DROP:
            mut_drop(heap, rec.a, rec.flags == TRACE_RECURSIVE)
        elif rec.op == TRACE_TICK:
            for t in range(rec.x):
                mut_tick(heap)
        if p.op_live_objects != NULL:
            heap_in_use_exact(heap, &p.op_live_objects[i])

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
    every = params.get("live_every_op", False)
    op_live = np.zeros(max(p.n, 1) if every else 1, dtype=np.int64)
    cdef int64_t[::1] ol = op_live
    p.op_live_objects = &ol[0] if every else NULL
    run_kernel(heap, kernel, &p)
    out = {"trace_ops": int(p.n),
           "gc_live_objects": live_objects[:gc_ops].tolist(),
           "gc_live_bytes": live_bytes[:gc_ops].tolist()}
    if every:
        out["op_live_objects"] = op_live[:p.n].tolist()
    return out
