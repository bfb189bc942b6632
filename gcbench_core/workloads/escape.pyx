# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""escape: what Go's escape analysis buys: only `escape_fraction` of objects reach the heap.

Each of `calls` function calls creates `objects_per_call` objects of drawn sizes and slot
counts.  Before each one is created, a draw decides whether it escapes (is stored
somewhere that outlives the call):
  * an escaping object is allocated in the managed heap, linked to the previous escaping
    object of the same call (slot 0, when it has slots) and stored in a ring of the
    last `retained` escaped objects behind a global;
  * a non-escaping object is bump-allocated in the call's stack frame, a C buffer that is
    reset when the call returns: the collector never sees it, it costs no GC work and
    no heap growth.  Its slots point to earlier objects of the same frame (frames die
    together, so those pointers never dangle); it does not point into the heap.
The sizes, slot counts and escape decisions come from the same draws whatever the
fraction, so `escape_fraction=1` (nothing stays on the stack: every object is a heap
allocation, as with interface conversions or closures that capture) and `0.1` do the
same work on the same objects, and differ only in where the objects live.

Death is known: an escaped object that leaves the ring is dead unless the next escaping
object of its call points to it (a flag per ring entry, C memory); when it is not, it
dies with the chain behind it, which has already left the ring (mut_drop, recursive),
so malloc frees it.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, run_kernel, obj_slots, HEADER_BYTES
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_load, mut_clear, mut_drop, mut_set_global, mut_payload,
                                   mut_tick)
from gcbench_core.rng cimport Rng, rng_seed, rng_double, rng_below
from gcbench_core.dist cimport Dist, dist_set, dist_sample
from gcbench_core.distspec import dist_params, dist_args

NAME = "escape"
DESCRIPTION = "per-call objects of which only `escape_fraction` escape to the heap; the rest live in the call's stack frame"
PARAMS = (
    {"name": "calls", "type": "int", "default": 300000, "min": 0, "max": 10_000_000_000,
     "help": "function calls"},
    {"name": "objects_per_call", "type": "int", "default": 16, "min": 1, "max": 100000,
     "help": "objects each call creates"},
    {"name": "escape_fraction", "type": "float", "default": 0.2, "min": 0.0, "max": 1.0,
     "help": "probability that an object escapes to the heap (1: no escape analysis)"},
    {"name": "retained", "type": "int", "default": 4096, "min": 1, "max": 100_000_000,
     "help": "escaped objects kept reachable (a ring behind a global)"},
    *dist_params("slots", "pointer slots", 0, 2, limit=1024),
    *dist_params("payload", "payload bytes", 16, 128),
)
RESULT_KEYS = ("escaped_objects", "stack_objects")

cdef enum:
    R_RING = 0
    R_A = 1              # the newest escaped object of the call alternates between these
    R_B = 2
    R_OLD = 3            # the escaped object leaving the ring
    G_RING = 0

ctypedef struct Params:
    HeapState* heap
    int64_t calls
    int64_t objects_per_call
    double escape_fraction
    int64_t retained
    Dist slots
    Dist payload
    uint64_t seed
    char* frame                      # the call's stack frame (C memory, never collected)
    uint8_t* ring_pointed            # per ring entry: a later object of its call points to it
    int64_t frame_bytes
    int64_t escaped
    int64_t on_stack
    uint64_t checksum

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    # frame_rng: the choices only stack objects make, so that rng draws the same
    # sequence at any escape fraction
    cdef Rng rng, frame_rng
    cdef int64_t call, i, frame_top, nframe
    cdef uint32_t nslots, payload, k, nbytes
    cdef int cur = R_A, other = R_B
    cdef bint have_prev
    cdef int64_t pos, cur_pos = 0
    cdef Object* obj
    cdef Object** frame_objs = <Object**>(p.frame + p.frame_bytes)   # index of this frame's objects
    rng_seed(&rng, p.seed)
    rng_seed(&frame_rng, p.seed ^ <uint64_t>0x5DEECE66D)
    mut_alloc(heap, R_RING, <uint32_t>p.retained, 0)
    mut_set_global(heap, G_RING, R_RING)
    for call in range(p.calls):
        frame_top = 0                                # the frame is fresh at each call
        nframe = 0
        have_prev = False
        for i in range(p.objects_per_call):
            nslots = dist_sample(&p.slots, &rng)
            payload = dist_sample(&p.payload, &rng)
            if rng_double(&rng) < p.escape_fraction:
                p.escaped += 1
                mut_alloc(heap, other, nslots, payload)
                if nslots > 0 and have_prev:
                    mut_store(heap, other, 0, cur)
                    p.ring_pointed[cur_pos] = 1
                if payload >= 8:
                    (<int64_t*>mut_payload(heap, other))[0] = i
                pos = p.escaped % p.retained
                if p.escaped > p.retained:
                    mut_load(heap, R_OLD, R_RING, <uint32_t>pos)
                mut_store(heap, R_RING, <uint32_t>pos, other)
                if p.escaped > p.retained:
                    # out of the ring: dead with its chain, unless its successor holds it
                    if p.ring_pointed[pos]:
                        mut_clear(heap, R_OLD)
                    else:
                        mut_drop(heap, R_OLD, True)
                p.ring_pointed[pos] = 0
                cur_pos = pos
                cur, other = other, cur
                mut_clear(heap, other)
                have_prev = True
            else:
                # on the stack: bump-allocate in the frame, same layout as a heap object
                p.on_stack += 1
                nbytes = (HEADER_BYTES + 8 * nslots + payload + 7) & ~(<uint32_t>7)
                obj = <Object*>(p.frame + frame_top)
                frame_top += nbytes
                obj.nslots = nslots
                obj.nbytes = nbytes
                for k in range(nslots):
                    obj_slots(obj)[k] = frame_objs[rng_below(&frame_rng, nframe)] if nframe > 0 else NULL
                if payload >= 8:
                    (<int64_t*>(obj_slots(obj) + nslots))[0] = i
                p.checksum += nbytes
                frame_objs[nframe] = obj
                nframe += 1
                mut_tick(heap)
        mut_clear(heap, cur)                         # return: the frame is released

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    p.heap = heap.state
    p.calls = params["calls"]
    p.objects_per_call = params["objects_per_call"]
    p.escape_fraction = params["escape_fraction"]
    p.retained = params["retained"]
    dist_set(&p.slots, dist_args(params, "slots"))
    dist_set(&p.payload, dist_args(params, "payload"))
    p.seed = seed
    p.escaped = p.on_stack = 0
    p.checksum = 0
    # the largest frame: every object at its largest size, plus the frame's object index
    p.frame_bytes = p.objects_per_call * ((HEADER_BYTES + 8 * params["max_slots"] + params["max_payload"] + 7) // 8 * 8)
    p.frame = <char*>malloc(p.frame_bytes + p.objects_per_call * sizeof(Object*))
    p.ring_pointed = <uint8_t*>calloc(p.retained, 1)
    if p.frame == NULL or p.ring_pointed == NULL:
        free(p.frame)
        free(p.ring_pointed)
        raise MemoryError("escape: cannot allocate the stack frame")
    try:
        run_kernel(heap, kernel, &p)
    finally:
        free(p.frame)
        free(p.ring_pointed)
    return {"escaped_objects": p.escaped, "stack_objects": p.on_stack}
