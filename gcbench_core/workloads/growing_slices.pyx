# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""growing-slices: slices grown by append, with Go's capacity rule, or preallocated.

Each of `slices` slices gets a drawn final length and is built by appending one element
at a time.  Without `prealloc`, append works as Go's runtime.growslice does (Go 1.20+):
when the backing array is full, the new capacity is double the old below 256 elements,
then grows by (cap + 3*256)/4 until it fits, and is rounded up to fill the size class
(or the pages, for a large array); the elements are copied across and the old backing
array becomes garbage.  With `prealloc=true` the slice is made once with its final
capacity (`make([]T, 0, n)`), so the only allocations are the array and the elements.
Elements are pointers to small element objects (`element=pointer`, a []*T) or 8-byte
integers in the array's payload (`element=int`, a []int64).  The last `live_slices`
slices stay reachable from a ring behind a global, the rest die.  Death is known (so
malloc frees): an outgrown backing array dies alone (mut_drop; its elements moved on),
a slice leaving the ring dies with its elements (mut_drop, recursive).

It stresses the allocation rate of large, short-lived, growing arrays (about as many
bytes of dead backing arrays as live ones): the JSON decoder building a []interface{},
a log batcher, any `for ... { out = append(out, x) }` without a size hint.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.string cimport memcpy
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, run_kernel, size_class_of,
                                HEADER_BYTES, MAX_SMALL_SIZE, PAGE_SIZE)
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_load, mut_clear, mut_drop, mut_set_global,
                                   mut_payload, mut_tick)
from gcbench_core.rng cimport Rng, rng_seed
from gcbench_core.dist cimport Dist, dist_set, dist_sample
from gcbench_core.distspec import dist_params, dist_args

NAME = "growing-slices"
DESCRIPTION = "slices grown by append with Go's capacity doubling (old arrays become garbage), or preallocated"
PARAMS = (
    {"name": "slices", "type": "int", "default": 20000, "min": 0, "max": 1_000_000_000,
     "help": "slices built"},
    *dist_params("length", "elements (final length)", 0, 1000, limit=1 << 24, per="slice"),
    {"name": "element", "type": "str", "default": "pointer", "choices": ("pointer", "int"),
     "help": "pointer: elements are pointers to new small objects ([]*T); int: 8-byte integers ([]int64)"},
    {"name": "element_bytes", "type": "int", "default": 16, "min": 0, "max": 1 << 20,
     "help": "payload bytes of each element object (element=pointer)"},
    {"name": "prealloc", "type": "bool", "default": False,
     "help": "true: make each slice once with its final capacity; false: grow by append"},
    {"name": "live_slices", "type": "int", "default": 64, "min": 1, "max": 100_000_000,
     "help": "most recent slices kept reachable (a ring behind a global)"},
)

cdef enum:
    R_RING = 0
    R_ARRAY_A = 1        # the backing array alternates between these two registers
    R_ARRAY_B = 2
    R_ELEM = 3
    R_OLD = 4            # the slice leaving the ring
    G_RING = 0
    GROW_THRESHOLD = 256

ctypedef struct Params:
    HeapState* heap
    int64_t slices
    Dist length
    bint pointers
    uint32_t element_bytes
    bint prealloc
    int64_t live_slices
    uint64_t seed

# Go's growslice: the capacity after appending to a full slice of `old_cap` elements.
cdef inline uint64_t next_capacity(uint64_t old_cap, uint64_t needed) noexcept nogil:
    cdef uint64_t cap = old_cap
    if needed > 2 * old_cap:
        return needed
    if old_cap < GROW_THRESHOLD:
        return 2 * old_cap
    while cap < needed:
        cap += (cap + 3 * GROW_THRESHOLD) // 4
    return cap

# Round a capacity up to what the allocation really holds (Go's roundupsize).
cdef inline uint64_t rounded_capacity(HeapState* heap, uint64_t cap) noexcept nogil:
    cdef uint64_t nbytes = HEADER_BYTES + cap * 8
    if nbytes <= MAX_SMALL_SIZE:
        nbytes = heap.sizeclass.class_size[size_class_of(heap, <uint32_t>nbytes)]
    else:
        nbytes = (nbytes + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
    return (nbytes - HEADER_BYTES) // 8

cdef inline void alloc_array(Params* p, int r, uint64_t cap) noexcept nogil:
    if p.pointers:
        mut_alloc(p.heap, r, <uint32_t>cap, 0)
    else:
        mut_alloc(p.heap, r, 0, <uint32_t>(cap * 8))

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t i
    cdef uint64_t n, j, k, cap, new_cap
    cdef int cur, other
    rng_seed(&rng, p.seed)
    mut_alloc(heap, R_RING, <uint32_t>p.live_slices, 0)
    mut_set_global(heap, G_RING, R_RING)
    for i in range(p.slices):
        n = dist_sample(&p.length, &rng)
        cur = R_ARRAY_A
        other = R_ARRAY_B
        cap = 0
        if p.prealloc and n > 0:
            cap = n
            alloc_array(p, cur, cap)
        for j in range(n):
            if j == cap:
                # append to a full slice: grow, copy, drop the old array
                new_cap = rounded_capacity(heap, next_capacity(cap, j + 1))
                alloc_array(p, other, new_cap)
                if cap > 0:
                    if p.pointers:
                        for k in range(cap):
                            mut_load(heap, R_ELEM, cur, <uint32_t>k)
                            mut_store(heap, other, <uint32_t>k, R_ELEM)
                    else:
                        memcpy(mut_payload(heap, other), mut_payload(heap, cur), cap * 8)
                        mut_tick(heap)
                    mut_drop(heap, cur, False)
                cur, other = other, cur
                cap = new_cap
            if p.pointers:
                mut_alloc(heap, R_ELEM, 0, p.element_bytes)
                mut_store(heap, cur, <uint32_t>j, R_ELEM)
            else:
                (<int64_t*>mut_payload(heap, cur))[j] = <int64_t>j
                mut_tick(heap)
        if p.pointers:
            mut_clear(heap, R_ELEM)
        # keep it for a while (an empty slice stores nil)
        if i >= p.live_slices:
            mut_load(heap, R_OLD, R_RING, <uint32_t>(i % p.live_slices))
        mut_store(heap, R_RING, <uint32_t>(i % p.live_slices), cur)
        mut_clear(heap, cur)
        if i >= p.live_slices:
            mut_drop(heap, R_OLD, True)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    p.heap = heap.state
    p.slices = params["slices"]
    dist_set(&p.length, dist_args(params, "length"))
    p.pointers = params["element"] == "pointer"
    p.element_bytes = params["element_bytes"]
    p.prealloc = params["prealloc"]
    p.live_slices = params["live_slices"]
    p.seed = seed
    run_kernel(heap, kernel, &p)
